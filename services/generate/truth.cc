#include "services/generate/truth.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/encoding/json_string.h"
#include "common/time/proto_time.h"
#include "services/generate/civil_time.h"

namespace probity::generate {
namespace {

using encoding::AppendJsonString;

StatusOr<Micros> ParseTime(const std::string& s) {
  google::protobuf::Timestamp ts;
  if (!google::protobuf::util::TimeUtil::FromString(s, &ts)) {
    return InvalidArgument("bad timestamp \"" + s + "\"");
  }
  return FromTimestamp(ts);
}

}  // namespace

std::string TruthToJsonLine(const TruthEntry& e) {
  std::string out = "{\"practice_code\":";
  AppendJsonString(&out, e.practice_code);
  out.append(",\"rule_kind\":");
  AppendJsonString(&out, e.rule_kind);
  out.append(",\"detail\":");
  AppendJsonString(&out, e.detail);
  out.append(",\"window\":{\"start\":");
  AppendJsonString(&out, FormatRfc3339(e.window_start));
  out.append(",\"end\":");
  AppendJsonString(&out, FormatRfc3339(e.window_end));
  out.append("}");
  if (e.magnitude != 0) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.17g", e.magnitude);
    out.append(",\"magnitude\":").append(b);
  }
  if (!e.pattern.empty()) {
    out.append(",\"pattern\":");
    AppendJsonString(&out, e.pattern);
  }
  if (!e.undetectable.empty()) {
    out.append(",\"undetectable\":");
    AppendJsonString(&out, e.undetectable);
  }
  out.append("}");
  return out;
}

std::string TruthToJsonl(const std::vector<TruthEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out.append(TruthToJsonLine(e));
    out.push_back('\n');
  }
  return out;
}

StatusOr<std::vector<TruthEntry>> ParseTruthJsonl(std::string_view text) {
  std::vector<TruthEntry> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto bad = [&](const std::string& why) {
      return InvalidArgument("truth line " + std::to_string(line_no) + ": " + why);
    };
    google::protobuf::Struct obj;
    auto st = google::protobuf::util::JsonStringToMessage(std::string(line), &obj);
    if (!st.ok()) return bad("not a JSON object: " + std::string(st.message()));
    const auto& f = obj.fields();
    auto str = [&](const char* name) -> const google::protobuf::Value* {
      auto it = f.find(name);
      if (it == f.end() || it->second.kind_case() != google::protobuf::Value::kStringValue) {
        return nullptr;
      }
      return &it->second;
    };
    TruthEntry e;
    const auto* code = str("practice_code");
    const auto* kind = str("rule_kind");
    if (code == nullptr || kind == nullptr)
      return bad("practice_code and rule_kind must be strings");
    e.practice_code = code->string_value();
    e.rule_kind = kind->string_value();
    if (const auto* detail = str("detail")) e.detail = detail->string_value();
    if (const auto* pattern = str("pattern")) e.pattern = pattern->string_value();
    if (const auto* why = str("undetectable")) e.undetectable = why->string_value();
    if (auto it = f.find("magnitude"); it != f.end()) {
      if (it->second.kind_case() != google::protobuf::Value::kNumberValue)
        return bad("magnitude must be a number");
      e.magnitude = it->second.number_value();
    }
    if (auto it = f.find("window"); it != f.end()) {
      if (it->second.kind_case() != google::protobuf::Value::kStructValue)
        return bad("window must be an object");
      const auto& w = it->second.struct_value().fields();
      for (auto [name, target] :
           {std::pair{"start", &e.window_start}, std::pair{"end", &e.window_end}}) {
        auto wi = w.find(name);
        if (wi == w.end()) continue;
        if (wi->second.kind_case() != google::protobuf::Value::kStringValue)
          return bad("window times must be strings");
        auto t = ParseTime(wi->second.string_value());
        if (!t.ok()) return bad(t.status().message());
        *target = *t;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

Status WriteTruthFile(const std::string& path, const std::vector<TruthEntry>& entries) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("cannot create " + path);
  out << TruthToJsonl(entries);
  out.flush();
  if (!out) return IoError("cannot write " + path);
  return Status::Ok();
}

StatusOr<std::vector<TruthEntry>> ReadTruthFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseTruthJsonl(ss.str());
}

}  // namespace probity::generate
