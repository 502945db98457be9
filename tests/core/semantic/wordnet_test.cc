#include "core/semantic/wordnet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace autoglm::core::semantic {
namespace {

// Synset offsets checked by hand with `wn <word> -o -hypen` (WordNet 3.0).
const std::string kDog = "wn:n:02084071";          // dog, domestic dog, Canis familiaris
const std::string kCanine = "wn:n:02083346";       // canine, canid
const std::string kDomestic = "wn:n:01317541";     // domestic animal
const std::string kAnimal = "wn:n:00015388";       // animal, animate being, beast
const std::string kPuppy = "wn:n:01322604";        // puppy
const std::string kPup = "wn:n:01322343";          // pup, whelp
const std::string kRunVerb = "wn:v:01926329";      // run (move fast on foot)

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool hasPair(const Concepts& c, const std::string& child, const std::string& parent) {
  return std::find(c.hypernyms.begin(), c.hypernyms.end(), std::make_pair(child, parent)) !=
         c.hypernyms.end();
}

// Every concept node: senses and both ends of each hypernym pair.
std::set<std::string> nodes(const Concepts& c) {
  std::set<std::string> out(c.senses.begin(), c.senses.end());
  for (const auto& [child, parent] : c.hypernyms) {
    out.insert(child);
    out.insert(parent);
  }
  return out;
}

TEST(WordNet, PluralFindsTheNounAndItsHypernyms) {
  const Concepts c = WordNet::instance().lookup("dogs", 3, 2);
  ASSERT_FALSE(c.senses.empty());
  EXPECT_EQ(c.senses.front(), kDog);
  EXPECT_TRUE(hasPair(c, kDog, kCanine));
  EXPECT_TRUE(hasPair(c, kDog, kDomestic));
  EXPECT_TRUE(hasPair(c, kDomestic, kAnimal));  // second level
  for (const auto& [child, parent] : c.hypernyms) EXPECT_TRUE(nodes(c).count(child));
}

TEST(WordNet, DepthLimitsTheChain) {
  const Concepts one = WordNet::instance().lookup("dog", 1, 1);
  EXPECT_TRUE(hasPair(one, kDog, kDomestic));
  EXPECT_FALSE(hasPair(one, kDomestic, kAnimal));
  const Concepts none = WordNet::instance().lookup("dog", 1, 0);
  EXPECT_FALSE(none.senses.empty());
  EXPECT_TRUE(none.hypernyms.empty());
}

TEST(WordNet, MaxSensesPerPartOfSpeech) {
  const Concepts c = WordNet::instance().lookup("dog", 1, 0);
  ASSERT_EQ(c.senses.size(), 2u);  // one noun, one verb ("to dog": chase)
  EXPECT_EQ(c.senses[0], kDog);
  EXPECT_EQ(c.senses[1].rfind("wn:v:", 0), 0u);
  EXPECT_EQ(WordNet::instance().lookup("dog", 3, 0).senses.size(), 4u);  // the verb has 1 sense
}

TEST(WordNet, DogAndPuppyShareAnimal) {
  // puppy -> pup -> young mammal -> young -> animal; dog -> domestic animal -> animal.
  const Concepts dog = WordNet::instance().lookup("dog", 1, 2);
  const Concepts puppy = WordNet::instance().lookup("puppy", 1, 4);
  EXPECT_TRUE(hasPair(puppy, kPuppy, kPup));
  const auto a = nodes(dog), b = nodes(puppy);
  EXPECT_TRUE(a.count(kAnimal));
  EXPECT_TRUE(b.count(kAnimal));
}

TEST(WordNet, MorphologyMapsRunningToRun) {
  const Concepts c = WordNet::instance().lookup("running", 2, 0);
  EXPECT_TRUE(contains(c.senses, kRunVerb));
  EXPECT_TRUE(contains(WordNet::instance().lookup("Ran", 1, 0).senses, kRunVerb));
}

TEST(WordNet, UnknownAndOddWordsGiveNothing) {
  for (const std::string& w : std::vector<std::string>{"qwxzv", "", "12345", "3.14", "caf\xe9", "na\xc3\xafve", "\xff",
                              "dog\n", std::string(500, 'a')}) {
    const Concepts c = WordNet::instance().lookup(w, 3, 3);
    EXPECT_TRUE(c.senses.empty()) << w;
    EXPECT_TRUE(c.hypernyms.empty()) << w;
  }
  EXPECT_TRUE(WordNet::instance().lookup("dog", 0, 3).senses.empty());
}

TEST(WordNet, ConcurrentLookupsMatchSerialOnes) {
  const std::vector<std::string> words{"dogs", "running", "puppy", "bank", "qwxzv", "cats"};
  std::vector<Concepts> serial;
  for (const auto& w : words) serial.push_back(WordNet::instance().lookup(w, 2, 3));
  std::vector<std::vector<Concepts>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (const auto& w : words) got[t].push_back(WordNet::instance().lookup(w, 2, 3));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), serial.size());
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_EQ(g[i].senses, serial[i].senses) << words[i];
      EXPECT_EQ(g[i].hypernyms, serial[i].hypernyms) << words[i];
    }
  }
}

TEST(WordNetBaseForm, NounsAndVerbs) {
  const WordNet& wn = WordNet::instance();
  EXPECT_EQ(wn.baseForm("companies", PartOfSpeech::kNoun), "company");
  EXPECT_EQ(wn.baseForm("prices", PartOfSpeech::kNoun), "price");
  EXPECT_EQ(wn.baseForm("banks", PartOfSpeech::kNoun), "bank");
  EXPECT_EQ(wn.baseForm("news", PartOfSpeech::kNoun), "news");
  EXPECT_EQ(wn.baseForm("dog", PartOfSpeech::kNoun), "dog");
  EXPECT_EQ(wn.baseForm("sold", PartOfSpeech::kVerb), "sell");
  EXPECT_EQ(wn.baseForm("is", PartOfSpeech::kVerb), "be");
  EXPECT_EQ(wn.baseForm("acquired", PartOfSpeech::kVerb), "acquire");
  EXPECT_EQ(wn.baseForm("found", PartOfSpeech::kVerb), "find");
  EXPECT_EQ(wn.baseForm("take", PartOfSpeech::kVerb), "take");
  EXPECT_EQ(wn.baseForm("interesting", PartOfSpeech::kAdjective), "interesting");
  EXPECT_EQ(wn.baseForm("interesting", PartOfSpeech::kNoun), "");
  EXPECT_EQ(wn.baseForm("zzqqxx", PartOfSpeech::kNoun), "");
  EXPECT_EQ(wn.baseForm("", PartOfSpeech::kVerb), "");
}

}  // namespace
}  // namespace autoglm::core::semantic

namespace autoglm::core::semantic {
namespace {

TEST(WordNetRelated, BaseFormsThenSynonyms) {
  const WordNet& wn = WordNet::instance();
  const std::vector<std::string> r = wn.relatedWords("companies", 2);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0], "company");
  const std::vector<std::string> car = wn.relatedWords("car", 1);
  EXPECT_NE(std::find(car.begin(), car.end(), "automobile"), car.end());
  EXPECT_EQ(std::find(car.begin(), car.end(), "car"), car.end());
  EXPECT_TRUE(wn.relatedWords("zzqqxx", 2).empty());
  EXPECT_TRUE(wn.relatedWords("", 2).empty());
}

TEST(WordNetRelated, SynsetWordsOfAKey) {
  const WordNet& wn = WordNet::instance();
  const std::vector<std::string> dog = wn.synsetWords("wn:n:02084071");
  ASSERT_GE(dog.size(), 2u);
  EXPECT_EQ(dog[0], "dog");
  EXPECT_EQ(dog[1], "domestic_dog");
  EXPECT_TRUE(wn.synsetWords("wn:x:02084071").empty());
  EXPECT_TRUE(wn.synsetWords("dog").empty());
}

}  // namespace
}  // namespace autoglm::core::semantic
