// sessions/verify.cpp — first position where a re-run leaves the recorded path.
#include "verify.h"

#include <algorithm>
#include <vector>

namespace mlascope::sessions {

namespace {
std::vector<int> expert_set(const RouteRow& r) {
  std::vector<int> s(r.expert.begin(), r.expert.begin() + r.k);
  std::sort(s.begin(), s.end());
  return s;
}
std::string set_string(const std::vector<int>& s) {
  std::string out = "{";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "}";
}
}  // namespace

VerifyResult first_difference(const TraceModel& recorded, std::span<const StepRecord> rerun) {
  VerifyResult v;
  const auto layers = recorded.moe_layers();
  const size_t n = std::min(recorded.size(), rerun.size());
  for (size_t t = 0; t < n; ++t) {
    const StepRecord& a = recorded.token(t);
    const StepRecord& b = rerun[t];
    if (a.id != b.id) {
      v = {false, a.position, "token " + std::to_string(a.id) + " recorded, " + std::to_string(b.id) + " now"};
      return v;
    }
    const size_t nl = std::min(a.routes.size(), b.routes.size());
    for (size_t i = 0; i < nl; ++i) {
      const auto sa = expert_set(a.routes[i]), sb = expert_set(b.routes[i]);
      if (sa != sb) {
        const int layer = i < layers.size() ? layers[i] : static_cast<int>(i);
        v = {false, a.position, "layer " + std::to_string(layer) + " experts " + set_string(sa) + " recorded, " + set_string(sb) + " now"};
        return v;
      }
    }
  }
  if (rerun.size() < recorded.size()) {
    v = {false, static_cast<int32_t>(rerun.size()), "re-run ended after " + std::to_string(rerun.size()) + " of " +
                                                       std::to_string(recorded.size()) + " tokens"};
  }
  return v;
}

}  // namespace mlascope::sessions
