// The `probity` binary: owns what is process-wide (the stop request set by signals, the system
// clock) and hands them with argv to the composition root, services/cli/app.h. Nothing else.
#include <atomic>
#include <csignal>

#include "common/time/clock.h"
#include "services/cli/app.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  probity::SystemClock clock;
  return probity::cli::Main(argc, argv, {.stop = &g_stop, .clock = &clock});
}
