// ragd_fts5_rank: the SQLite FTS5 BM25 baseline of `ragctl eval` (bench/eval.sh). It indexes
// the very chunks ragd made of a corpus (the output of `ragctl --json documents get`, one
// document per line) in an in-memory FTS5 table, asks each question of a questions file as an
// OR of its words (FTS5's query syntax would otherwise read words such as NOT or NEAR, and
// quotes, as operators), ranks the chunks by bm25() and writes the distinct documents, best
// first, in the ranking format of cli/eval_metrics.h:
//   {"id": "ko-001", "ranked": ["doc#3", "doc#7", ...]}
//
//   ragd_fts5_rank --chunks CHUNKS.jsonl --questions QUESTIONS.jsonl [--tokenizer unicode61]
//                  [--limit 200] > RANKED.jsonl
//   ragd_fts5_rank --ids DOCUMENTS.jsonl     (prints each line's "id": the documents to export)
//
// The tokenizer is FTS5's default, unicode61 (Unicode letters and digits form tokens, case
// folded, diacritics removed); `porter` stems English on top of it, `trigram` indexes every
// 3-character substring (FTS5's answer for CJK and substring search). Exit codes: 0 ok, 2
// usage or unreadable input (naming the file and line), 1 an SQLite error.

#include <sqlite3.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

int Usage(const std::string& message) {
  std::cerr << "ragd_fts5_rank: " << message << "\n"
            << "usage: ragd_fts5_rank --chunks FILE --questions FILE [--tokenizer "
               "unicode61|porter|trigram] [--limit N]\n"
               "       ragd_fts5_rank --ids FILE\n";
  return 2;
}

// Calls fn(json) for every non-blank line; false (after printing) on a bad line.
template <typename Fn>
bool ForEachJsonLine(const std::string& path, Fn fn) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "ragd_fts5_rank: cannot read " << path << "\n";
    return false;
  }
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string error;
    if (j.is_discarded() || !j.is_object()) {
      error = "not a JSON object";
    } else {
      error = fn(j);
    }
    if (!error.empty()) {
      std::cerr << "ragd_fts5_rank: " << path << ":" << number << ": " << error << "\n";
      return false;
    }
  }
  return true;
}

std::string StringField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The words of a question as an FTS5 OR query: each run of bytes that are not ASCII
// punctuation or space becomes a quoted string (FTS5 tokenizes inside the quotes again).
std::string OrQuery(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back("\"" + word + "\"");
    word.clear();
  };
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    const bool separator = u < 0x80 && !std::isalnum(u);
    if (separator) {
      flush();
    } else {
      word.push_back(c);
    }
  }
  flush();
  std::string query;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) query += " OR ";
    query += words[i];
  }
  return query;
}

class Db {
 public:
  ~Db() {
    if (db_ != nullptr) sqlite3_close(db_);
  }
  bool Open() { return sqlite3_open(":memory:", &db_) == SQLITE_OK; }
  bool Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::cerr << "ragd_fts5_rank: " << (error != nullptr ? error : "sqlite error") << "\n";
      sqlite3_free(error);
      return false;
    }
    return true;
  }
  sqlite3_stmt* Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      std::cerr << "ragd_fts5_rank: " << sqlite3_errmsg(db_) << "\n";
      return nullptr;
    }
    return stmt;
  }
  const char* error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  std::string chunks_path, questions_path, ids_path, tokenizer = "unicode61";
  long limit = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--chunks" && value(&v)) {
      chunks_path = v;
    } else if (arg == "--questions" && value(&v)) {
      questions_path = v;
    } else if (arg == "--ids" && value(&v)) {
      ids_path = v;
    } else if (arg == "--tokenizer" && value(&v)) {
      tokenizer = v;
    } else if (arg == "--limit" && value(&v)) {
      limit = std::strtol(v.c_str(), nullptr, 10);
    } else {
      return Usage("unknown or incomplete argument " + arg);
    }
  }
  if (!ids_path.empty()) {
    return ForEachJsonLine(ids_path,
                           [](const nlohmann::json& j) -> std::string {
                             std::string id = StringField(j, "id");
                             if (id.empty()) return "no \"id\"";
                             std::cout << id << "\n";
                             return "";
                           })
               ? 0
               : 2;
  }
  if (chunks_path.empty() || questions_path.empty()) return Usage("give --chunks and --questions");
  if (tokenizer != "unicode61" && tokenizer != "porter" && tokenizer != "trigram") {
    return Usage("--tokenizer must be unicode61, porter or trigram");
  }
  if (limit < 1 || limit > 100000) return Usage("--limit must be 1..100000");

  Db db;
  if (!db.Open() ||
      !db.Exec("CREATE VIRTUAL TABLE chunks USING fts5(text, document UNINDEXED, tokenize='" +
               tokenizer + "')")) {
    return 1;
  }
  sqlite3_stmt* insert = db.Prepare("INSERT INTO chunks(text, document) VALUES (?, ?)");
  if (insert == nullptr) return 1;
  size_t chunk_count = 0;
  bool sqlite_failed = false;
  db.Exec("BEGIN");
  const bool read = ForEachJsonLine(chunks_path, [&](const nlohmann::json& j) -> std::string {
    const std::string document = StringField(j, "document_id");
    if (document.empty()) return "no \"document_id\" (expected `ragctl --json documents get`)";
    auto chunks = j.find("chunks");
    if (chunks == j.end() || !chunks->is_array()) return "no \"chunks\" array";
    for (const nlohmann::json& chunk : *chunks) {
      const std::string text = chunk.is_object() ? StringField(chunk, "text") : "";
      sqlite3_reset(insert);
      sqlite3_bind_text(insert, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 2, document.data(), static_cast<int>(document.size()),
                        SQLITE_TRANSIENT);
      if (sqlite3_step(insert) != SQLITE_DONE) {
        sqlite_failed = true;
        return std::string("sqlite: ") + db.error();
      }
      ++chunk_count;
    }
    return "";
  });
  sqlite3_finalize(insert);
  if (!read) return sqlite_failed ? 1 : 2;
  if (!db.Exec("COMMIT")) return 1;
  std::cerr << "ragd_fts5_rank: " << chunk_count << " chunks indexed (tokenize=" << tokenizer
            << ")\n";

  sqlite3_stmt* search = db.Prepare(
      "SELECT document FROM chunks WHERE chunks MATCH ? ORDER BY bm25(chunks) LIMIT ?");
  if (search == nullptr) return 1;
  const bool asked = ForEachJsonLine(questions_path, [&](const nlohmann::json& j) -> std::string {
    const std::string id = StringField(j, "id");
    const std::string question = StringField(j, "question");
    if (id.empty() || question.empty()) return "no \"id\" or \"question\"";
    nlohmann::json ranked = nlohmann::json::array();
    const std::string query = OrQuery(question);
    if (!query.empty()) {
      sqlite3_reset(search);
      sqlite3_bind_text(search, 1, query.data(), static_cast<int>(query.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(search, 2, limit);
      std::unordered_set<std::string> seen;
      int rc;
      while ((rc = sqlite3_step(search)) == SQLITE_ROW) {
        const char* doc = reinterpret_cast<const char*>(sqlite3_column_text(search, 0));
        std::string d = doc != nullptr ? doc : "";
        if (seen.insert(d).second) ranked.push_back(d);
      }
      // A query of tokens FTS5 cannot use (e.g. shorter than 3 characters under trigram) is
      // an error for that question only: it ranks nothing.
      if (rc != SQLITE_DONE) {
        std::cerr << "ragd_fts5_rank: question " << id << ": " << db.error() << "\n";
      }
    }
    std::cout << nlohmann::json{{"id", id}, {"ranked", ranked}}.dump() << "\n";
    return "";
  });
  sqlite3_finalize(search);
  return asked ? 0 : 2;
}
