#pragma once
// Groups of Link Grammar link types, used as syntax edge types of the
// semantic graph (core/graph/graph_types.h: kSyntaxEdgeBase + class).

#include <string>

namespace autoglm::core::semantic {

// Number of classes syntaxLinkClass returns: 23 named ones and "other".
// core/graph/graph_types.h keeps the same value as graph::kNumSyntaxClasses
// (graph sits above semantic, so it is the one that static_asserts equality).
constexpr int kNumSyntaxClasses = 24;
constexpr int kOtherSyntaxClass = kNumSyntaxClasses - 1;

// Maps a link type (e.g. "Ss*s", "MVp", "Ds**c") to a class in
// [0, kNumSyntaxClasses): the type's leading run of upper-case letters ("S",
// "MV", "D") is looked up among the 23 most frequent English link types
// between two words (measured on MR and R8 text in windows of 24 words):
//   S O D A AN J M MV SJ I P E B R VJ EA PH CO C CV AJ YS RS
// Every other type ("SI", "TO", "W", a type without a leading upper-case
// letter, the empty string) maps to kOtherSyntaxClass. The match is exact:
// "SI" is not "S", and "MVp" is "MV", not "M".
int syntaxLinkClass(const std::string& link_type);

// The leading upper-case run that names class `c` ("other" for the last).
const char* syntaxClassName(int c);

}  // namespace autoglm::core::semantic
