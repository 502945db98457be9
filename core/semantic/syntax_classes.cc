#include "core/semantic/syntax_classes.h"

#include <array>
#include <cctype>

namespace autoglm::core::semantic {
namespace {

// In order of frequency (MR, links not touching a wall).
constexpr std::array<const char*, kOtherSyntaxClass> kPrefixes{
    "S", "O",  "D",  "A",  "AN", "J", "M", "MV", "SJ", "I",  "P", "E",
    "B", "R",  "VJ", "EA", "PH", "CO", "C", "CV", "AJ", "YS", "RS"};

}  // namespace

int syntaxLinkClass(const std::string& link_type) {
  std::string head;
  for (char ch : link_type) {
    if (!std::isupper(static_cast<unsigned char>(ch))) break;
    head += ch;
  }
  for (size_t c = 0; c < kPrefixes.size(); ++c) {
    if (head == kPrefixes[c]) return static_cast<int>(c);
  }
  return kOtherSyntaxClass;
}

const char* syntaxClassName(int c) {
  if (c >= 0 && c < kOtherSyntaxClass) return kPrefixes[static_cast<size_t>(c)];
  return "other";
}

}  // namespace autoglm::core::semantic
