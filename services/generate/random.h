// Deterministic randomness for the generator. std::mt19937_64's output sequence is fixed by the
// C++ standard; std:: distributions are not (they differ between standard libraries), so every
// distribution used by the generator is implemented here on top of the raw engine.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace probity::generate {

// 64-bit FNV-1a, then a SplitMix64 finaliser: a stable hash for deriving stream seeds.
uint64_t StableHash(std::string_view text, uint64_t salt = 0);
// SplitMix64 finaliser of one word.
uint64_t Mix64(uint64_t x);

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // An independent stream for (seed, label, sub): the same triple always gives the same stream,
  // whatever else the generator draws, so one practice's events do not depend on which other
  // practices are selected.
  static Rng ForStream(uint64_t seed, std::string_view label, uint64_t sub = 0);

  uint64_t Next() { return engine_(); }
  // Uniform in [0, 1), 53 random bits.
  double Uniform01();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform01(); }
  // Uniform integer in [lo, hi] (inclusive), unbiased by rejection. REQUIRES: lo <= hi.
  int64_t UniformInt(int64_t lo, int64_t hi);
  bool Bernoulli(double p) { return Uniform01() < p; }
  // Standard normal by the Box-Muller transform (one value per call; no cached spare).
  double StandardNormal();
  double Normal(double mean, double sd) { return mean + sd * StandardNormal(); }
  // exp(Normal(mu, sigma)).
  double LogNormal(double mu, double sigma);
  // Poisson(mean): Knuth's product method below 30, rounded normal approximation above.
  // Returns 0 for mean <= 0.
  int64_t Poisson(double mean);
  // Index drawn with probability proportional to weights[i]. REQUIRES: n > 0, sum > 0.
  int Categorical(const double* weights, int n);

 private:
  std::mt19937_64 engine_;
};

}  // namespace probity::generate
