// IsValidUtf8 and Utf8SafePrefix over valid text and every class of malformed sequence.

#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace ragd {
namespace {

bool Valid(std::string_view s) { return IsValidUtf8(s); }

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(Valid(""));
  EXPECT_TRUE(Valid("plain ASCII\n\t"));
  EXPECT_TRUE(Valid(std::string_view("nul\0inside", 10)));
  EXPECT_TRUE(Valid("\xC2\xA9"));                   // U+00A9, smallest 2-byte lead
  EXPECT_TRUE(Valid("\xDF\xBF"));                   // U+07FF
  EXPECT_TRUE(Valid("\xE0\xA0\x80"));               // U+0800
  EXPECT_TRUE(Valid("\xED\x9F\xBF"));               // U+D7FF, just below the surrogates
  EXPECT_TRUE(Valid("\xEE\x80\x80"));               // U+E000, just above them
  EXPECT_TRUE(Valid("\xEF\xBF\xBF"));               // U+FFFF
  EXPECT_TRUE(Valid("\xF0\x90\x80\x80"));           // U+10000
  EXPECT_TRUE(Valid("\xF4\x8F\xBF\xBF"));           // U+10FFFF, the last code point
  EXPECT_TRUE(Valid("한국어 텍스트 검색"));         // Korean (3-byte Hangul syllables)
  EXPECT_TRUE(Valid("emoji \xF0\x9F\x98\x80 ok"));  // U+1F600
}

TEST(Utf8Test, RejectsOverlongEncodings) {
  EXPECT_FALSE(Valid("\xC0\x80"));          // U+0000 in 2 bytes
  EXPECT_FALSE(Valid("\xC1\xBF"));          // U+007F in 2 bytes
  EXPECT_FALSE(Valid("\xE0\x80\xAF"));      // '/' in 3 bytes
  EXPECT_FALSE(Valid("\xE0\x9F\xBF"));      // U+07FF in 3 bytes
  EXPECT_FALSE(Valid("\xF0\x80\x80\xAF"));  // '/' in 4 bytes
  EXPECT_FALSE(Valid("\xF0\x8F\xBF\xBF"));  // U+FFFF in 4 bytes
}

TEST(Utf8Test, RejectsSurrogates) {
  EXPECT_FALSE(Valid("\xED\xA0\x80"));              // U+D800
  EXPECT_FALSE(Valid("\xED\xBF\xBF"));              // U+DFFF
  EXPECT_FALSE(Valid("\xED\xA0\xBD\xED\xB8\x80"));  // a CESU-8 surrogate pair
}

TEST(Utf8Test, RejectsBeyondUnicode) {
  EXPECT_FALSE(Valid("\xF4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(Valid("\xF7\xBF\xBF\xBF"));      // U+1FFFFF
  EXPECT_FALSE(Valid("\xF8\x88\x80\x80\x80"));  // 5-byte form
  EXPECT_FALSE(Valid("\xFC\x84\x80\x80\x80\x80"));
  EXPECT_FALSE(Valid("\xFE"));
  EXPECT_FALSE(Valid("\xFF"));
}

TEST(Utf8Test, RejectsTruncatedAndStraySequences) {
  EXPECT_FALSE(Valid("\xC2"));
  EXPECT_FALSE(Valid("\xE2\x82"));  // € missing its last byte
  EXPECT_FALSE(Valid("\xF0\x9F\x98"));
  EXPECT_FALSE(Valid("abc\xED\x95"));  // Korean syllable cut at the end
  EXPECT_FALSE(Valid("\x80"));         // lone continuation byte
  EXPECT_FALSE(Valid("a\xBFz"));
  EXPECT_FALSE(Valid("\xE2\x28\xA1"));  // bad second byte
  EXPECT_FALSE(Valid("\xC2\x41"));      // lead byte followed by ASCII
  EXPECT_FALSE(Valid("\xF0\x9F\x98\x41"));
}

TEST(Utf8SafePrefixTest, NeverCutsInsideASequence) {
  const std::string korean = "한국어";  // 3 syllables x 3 bytes
  ASSERT_EQ(korean.size(), 9u);
  EXPECT_EQ(Utf8SafePrefix(korean, 100), 9u);
  EXPECT_EQ(Utf8SafePrefix(korean, 9), 9u);
  EXPECT_EQ(Utf8SafePrefix(korean, 8), 6u);
  EXPECT_EQ(Utf8SafePrefix(korean, 7), 6u);
  EXPECT_EQ(Utf8SafePrefix(korean, 6), 6u);
  EXPECT_EQ(Utf8SafePrefix(korean, 5), 3u);
  EXPECT_EQ(Utf8SafePrefix(korean, 2), 0u);
  EXPECT_EQ(Utf8SafePrefix(korean, 0), 0u);
  EXPECT_EQ(Utf8SafePrefix("abc", 2), 2u);
  EXPECT_EQ(Utf8SafePrefix("", 0), 0u);
  const std::string emoji = "a\xF0\x9F\x98\x80";
  EXPECT_EQ(Utf8SafePrefix(emoji, 4), 1u);
  EXPECT_EQ(Utf8SafePrefix(emoji, 5), 5u);
  // Every prefix it returns is itself valid.
  const std::string mixed =
      "ab한\xC2\xA9"
      "c\xF0\x9F\x98\x80";
  for (size_t n = 0; n <= mixed.size(); ++n) {
    const size_t cut = Utf8SafePrefix(mixed, n);
    EXPECT_LE(cut, n);
    EXPECT_TRUE(IsValidUtf8(std::string_view(mixed).substr(0, cut))) << n;
  }
}

TEST(EchoPrefixTest, ShortValuesAreEchoedWhole) {
  EXPECT_EQ(EchoPrefix("kb"), "kb");
  EXPECT_EQ(EchoPrefix("임베딩"), "임베딩");
  EXPECT_EQ(EchoPrefix(""), "");
}

TEST(EchoPrefixTest, LongValuesAreCutOnACharacterWithTheirLength) {
  const std::string big(1 << 20, 'x');
  const std::string e = EchoPrefix(big);
  EXPECT_EQ(e, std::string(64, 'x') + "... (1048576 bytes)");
  // 3-byte Hangul: never cut inside a character, never more than the limit plus one character.
  std::string korean;
  for (int i = 0; i < 100; ++i) korean += "임";
  const std::string k = EchoPrefix(korean, 10);
  EXPECT_EQ(k, "임임임임... (300 bytes)");
  EXPECT_TRUE(IsValidUtf8(k));
}

TEST(EchoPrefixTest, InvalidBytesAndControlsAreEscaped) {
  EXPECT_EQ(EchoPrefix(std::string("a\xff\0b", 4)), "a\\xff\\x00b");
  EXPECT_TRUE(IsValidUtf8(EchoPrefix("\xc3\x28\xe2\x82")));
}

}  // namespace
}  // namespace ragd
