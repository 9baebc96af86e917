// storage::VectorFile, the re-scoring reads' file cache: what was written reads back bit for
// bit; anything else (a hole, another label's slot, a damaged slot, a forgotten label) is a
// miss, never a wrong vector; the file leaves nothing behind in its directory.

#include "index/storage/vector_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <atomic>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"

namespace ragd::index::storage {
namespace {

using ragd::testing::TempDir;

std::vector<float> RandomVector(size_t dim, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(VectorFileTest, ReadsBackWhatWasWrittenAndMissesTheRest) {
  TempDir dir;
  constexpr size_t kDim = 37;  // slots not page-aligned
  auto file = VectorFile::Create(dir.path().string(), kDim);
  ASSERT_TRUE(file.ok()) << file.status();
  // Unnamed: nothing is left in the directory to outlive the process.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  std::mt19937 rng(1);
  std::map<Label, std::vector<float>> written;
  for (Label l : {1ull, 2ull, 7ull, 1000ull, 123456ull}) {
    written[l] = RandomVector(kDim, rng);
    ASSERT_TRUE((*file)->Write(l, written[l]));
  }
  const std::vector<Label> ask = {7, 3, 1000, 0, 1, 999999, 123456, 2};
  std::vector<float> out(ask.size() * kDim, -1.0f);
  std::vector<bool> found;
  EXPECT_EQ((*file)->Read(ask, out.data(), &found), 5u);
  ASSERT_EQ(found.size(), ask.size());
  for (size_t i = 0; i < ask.size(); ++i) {
    auto it = written.find(ask[i]);
    EXPECT_EQ(found[i], it != written.end()) << "label " << ask[i];
    if (it == written.end()) continue;
    EXPECT_EQ(std::vector<float>(out.begin() + i * kDim, out.begin() + (i + 1) * kDim),
              it->second);
  }
  EXPECT_EQ((*file)->hits(), 5u);
  EXPECT_EQ((*file)->misses(), 3u);
  // A wrong size is not written.
  EXPECT_FALSE((*file)->Write(5, std::vector<float>(kDim - 1, 1.0f)));
  EXPECT_FALSE((*file)->Write(0, std::vector<float>(kDim, 1.0f)));  // 0 is never a label
}

TEST(VectorFileTest, ForgottenLabelsMissAndFreeTheirPages) {
  TempDir dir;
  constexpr size_t kDim = 1536;  // 6,160-byte slots: whole pages inside most of them
  const std::string path = (dir.path() / "named").string();
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto file = VectorFile::Adopt(fd, kDim);
  std::mt19937 rng(2);
  for (Label l = 1; l <= 64; ++l) ASSERT_TRUE(file->Write(l, RandomVector(kDim, rng)));
  struct stat before;
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  for (Label l = 1; l <= 64; l += 2) file->Forget(l);
  file->Forget(5000);  // never written: stays a hole (the size does not grow)
  struct stat after;
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_LT(after.st_blocks, before.st_blocks);  // punched out (ext4, xfs, tmpfs)
  std::vector<Label> all;
  for (Label l = 1; l <= 64; ++l) all.push_back(l);
  std::vector<float> out(all.size() * kDim);
  std::vector<bool> found;
  EXPECT_EQ(file->Read(all, out.data(), &found), 32u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(found[i], all[i] % 2 == 0) << all[i];
}

// Damage is a miss: a flipped byte in a vector, a slot holding another label's vector.
TEST(VectorFileTest, DamagedOrMisplacedSlotsAreMisses) {
  TempDir dir;
  constexpr size_t kDim = 8;
  const std::string path = (dir.path() / "named").string();
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  const int other = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(other, 0);
  auto file = VectorFile::Adopt(fd, kDim);
  std::mt19937 rng(3);
  for (Label l = 1; l <= 4; ++l) ASSERT_TRUE(file->Write(l, RandomVector(kDim, rng)));
  const off_t slot = static_cast<off_t>(file->slot_bytes());
  // Label 2: one byte of its vector changed.
  char byte = 0;
  ASSERT_EQ(pread(other, &byte, 1, 2 * slot + 20), 1);
  byte ^= 0x01;
  ASSERT_EQ(pwrite(other, &byte, 1, 2 * slot + 20), 1);
  // Label 3's slot: label 4's whole slot copied over it (header included).
  std::vector<char> four(file->slot_bytes());
  ASSERT_EQ(pread(other, four.data(), four.size(), 4 * slot), slot);
  ASSERT_EQ(pwrite(other, four.data(), four.size(), 3 * slot), slot);
  // Label 1: truncated away.
  close(other);
  const std::vector<Label> ask = {1, 2, 3, 4};
  std::vector<float> out(ask.size() * kDim);
  std::vector<bool> found;
  EXPECT_EQ(file->Read(ask, out.data(), &found), 2u);
  EXPECT_EQ(found, (std::vector<bool>{true, false, false, true}));
  ASSERT_EQ(truncate(path.c_str(), slot + 10), 0);
  EXPECT_EQ(file->Read(ask, out.data(), &found), 0u);
}

// Readers and writers of the same labels at once (what concurrent searches filling the cache
// do): a read returns either a miss or the exact vector, never a mix.
TEST(VectorFileTest, ConcurrentFillsAndReadsNeverReturnAMix) {
  TempDir dir;
  constexpr size_t kDim = 1536;
  auto file = VectorFile::Create(dir.path().string(), kDim);
  ASSERT_TRUE(file.ok()) << file.status();
  std::mt19937 rng(4);
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < 16; ++i) vectors.push_back(RandomVector(kDim, rng));
  std::atomic<int> wrong{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out(kDim);
      std::vector<bool> found;
      for (int round = 0; round < 200; ++round) {
        const Label l = 1 + static_cast<Label>((round * 7 + t) % 16);
        if ((round + t) % 2 == 0) (*file)->Write(l, vectors[l - 1]);
        const Label one[1] = {l};
        if ((*file)->Read(one, out.data(), &found) == 1) {
          ++hits;
          if (out != vectors[l - 1]) ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0);
}

}  // namespace
}  // namespace ragd::index::storage
