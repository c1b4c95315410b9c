#include "sp/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/json_out.h"
#include "sp/record.h"
#include "sp/fs.h"
#include "sp/io.h"
#include "sp/sha256.h"

namespace sp {

const char* outcome_name(FileOutcome o) {
  switch (o) {
    case FileOutcome::kDownloaded: return "downloaded";
    case FileOutcome::kAlreadyPresent: return "already_present";
    case FileOutcome::kFailed: return "failed";
    case FileOutcome::kNotTaken: return "not_taken";
  }
  return "?";
}

double backoff_delay(int failures, double base_s, double cap_s, double unit) {
  double d = base_s * std::ldexp(1.0, std::clamp(failures - 1, 0, 60));
  d = std::min(d, cap_s);
  return d * (0.5 + 0.5 * std::clamp(unit, 0.0, 1.0));
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// Value of `key=` followed by digits anywhere in a structured header; -1 if absent.
double find_param_seconds(const std::string& v, const std::string& key) {
  size_t pos = 0;
  while ((pos = v.find(key, pos)) != std::string::npos) {
    bool boundary = pos == 0 || v[pos - 1] == ';' || v[pos - 1] == ',' || v[pos - 1] == ' ';
    size_t p = pos + key.size();
    if (boundary && p < v.size() && std::isdigit(static_cast<unsigned char>(v[p]))) return std::strtod(v.c_str() + p, nullptr);
    pos = p;
  }
  return -1;
}

}  // namespace

double server_retry_wait(const std::string& retry_after, const std::string& ratelimit, double now_epoch) {
  std::string ra = trim(retry_after);
  if (!ra.empty()) {
    if (std::all_of(ra.begin(), ra.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return std::strtod(ra.c_str(), nullptr);
    time_t t = curl_getdate(ra.c_str(), nullptr);
    if (t != -1) return std::max(0.0, static_cast<double>(t) - now_epoch);
  }
  std::string rl = lower(ratelimit);
  if (!rl.empty()) {
    double t = find_param_seconds(rl, "t=");
    if (t < 0) t = find_param_seconds(rl, "reset=");
    if (t >= 0) return t;
  }
  return -1;
}

std::string url_origin(const std::string& url) {
  CURLU* u = curl_url();
  if (!u) return "";
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
      out = lower(std::string(scheme) + "://" + host + ":" + port);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

double now_s() {
  static const Clock::time_point t0 = Clock::now();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Resolves a Location value against the URL it came from.
std::string resolve_url(const std::string& base, const std::string& location) {
  CURLU* u = curl_url();
  std::string out;
  if (u && curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, location.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) out = s;
    curl_free(s);
  }
  curl_url_cleanup(u);
  return out;
}

std::string strip_quotes(std::string s) {
  s = trim(s);
  if (s.rfind("W/", 0) == 0) s = s.substr(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// What a 200 answer said about the object whose bytes a .part holds. Kept
// beside it as "<final>.part.meta", written before the first byte, so this run
// and later ones resume only that object (If-Range, then a comparison).
struct Validators {
  std::string etag;           // strong ETag as sent, quotes included (weak ones cannot prove equal bytes)
  std::string last_modified;  // as sent
  std::string linked_etag;    // the Hub's X-Linked-Etag on the redirect chain (the LFS file's SHA-256)
  uint64_t size = 0;          // total length, when known
  bool size_known = false;
  bool usable() const { return !etag.empty() || !last_modified.empty() || !linked_etag.empty(); }
  // The If-Range value: a strong ETag, else the date ("" when neither).
  const std::string& if_range() const { return etag.empty() ? last_modified : etag; }
};

constexpr const char* kMetaMagic = "sp_download part-meta 1";

std::string format_meta(const Validators& v) {
  std::string s = std::string(kMetaMagic) + "\n";
  if (!v.etag.empty()) s += "etag " + v.etag + "\n";
  if (!v.last_modified.empty()) s += "last-modified " + v.last_modified + "\n";
  if (!v.linked_etag.empty()) s += "linked-etag " + v.linked_etag + "\n";
  if (v.size_known) s += "size " + std::to_string(v.size) + "\n";
  return s + "end\n";  // a torn write (crash) lacks this line and reads as no validators
}

// False when the sidecar is missing, torn or not ours: then nothing proves what the .part holds.
bool read_meta(const std::string& path, Validators& v) {
  v = Validators{};
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error&) {
    return false;
  }
  const std::string head = std::string(kMetaMagic) + "\n";
  if (text.rfind(head, 0) != 0 || text.size() < head.size() + 4 || text.compare(text.size() - 4, 4, "end\n") != 0)
    return false;
  size_t pos = head.size();
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t sp = line.find(' ');
    const std::string key = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (key == "etag") v.etag = value;
    else if (key == "last-modified") v.last_modified = value;
    else if (key == "linked-etag") v.linked_etag = value;
    else if (key == "size") v.size = std::strtoull(value.c_str(), nullptr, 10), v.size_known = true;
  }
  return true;
}

// TLS verification failures: retrying cannot fix a certificate.
bool is_certificate_error(CURLcode rc) {
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return true;
    default:
      return false;
  }
}

// Why an answer to a resume is not provably the object the .part's bytes came
// from ("" when it is). `lenient`: a validator the answer omits is not held
// against it (416 answers often carry none).
std::string changed_since(const Validators& was, const Validators& now, bool lenient) {
  auto differs = [lenient](const std::string& a, const std::string& b) {
    return !a.empty() && (b.empty() ? !lenient : a != b);
  };
  auto shown = [](const std::string& v) { return v.empty() ? std::string("absent") : "'" + v + "'"; };
  if (differs(was.etag, now.etag)) return "ETag '" + was.etag + "' is now " + shown(now.etag);
  if (differs(was.last_modified, now.last_modified))
    return "Last-Modified '" + was.last_modified + "' is now " + shown(now.last_modified);
  if (differs(was.linked_etag, now.linked_etag))
    return "X-Linked-Etag '" + was.linked_etag + "' is now " + shown(now.linked_etag);
  if (was.size_known && now.size_known && was.size != now.size)
    return "size " + std::to_string(was.size) + " is now " + std::to_string(now.size);
  return "";
}

class Engine;

// Per-file state; one attempt (a request plus its redirect hops) at a time.
struct Task {
  size_t index = 0;
  Engine* engine = nullptr;
  const ManifestEntry* entry = nullptr;
  std::string final_path, part_path, meta_path;
  int failures = 0;
  bool fresh_connection = false;  // the last attempt ended in a transport error: do not reuse a connection
  bool total_reported = false;  // size announced to the progress total
  double last_activity = 0;     // now_s() of the last byte (or request start): stall detection
  bool stalled = false;

  // Current attempt.
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string url;           // current hop
  int redirects = 0;
  int fd = -1;
  uint64_t offset = 0;       // bytes already in the part file when the response began
  uint64_t part_before = 0;  // part size when the attempt began (progress check)
  uint64_t written = 0;      // body bytes written by the current response
  long status = 0;
  std::string retry_after, ratelimit, content_range, location, linked_etag, linked_size;
  std::string etag, last_modified;  // of the current response
  int64_t content_length = -1;
  Validators stored;         // from the .part.meta, when the attempt resumes
  bool body_begun = false, body_to_file = false;
  std::string abort_reason;  // set when the write callback refuses data
  bool abort_permanent = false;
  bool abort_restart = false;  // the server's object changed: start over at once
  std::unique_ptr<Sha256> hash;
  std::string expected_sha;
  uint64_t expected_size = 0;
  bool expected_size_known = false;
  char curl_error[CURL_ERROR_SIZE] = {0};
};

class Engine {
 public:
  Engine(const std::vector<ManifestEntry>& entries, const DownloadOptions& o, DownloadCounters& c, const DownloadHooks& h)
      : entries_(entries), opt_(o), ctr_(c), hooks_(h), results_(entries.size()),
        rng_(std::random_device{}() ^ static_cast<uint64_t>(::getpid())) {}
  ~Engine() {
    for (CURL* e : pool_) curl_easy_cleanup(e);
    if (multi_) curl_multi_cleanup(multi_);
  }

  std::vector<FileResult> run();

 private:
  bool take_more(double now);
  void follow_job_pause(double now);
  void note(const std::string& s) { if (hooks_.on_event) hooks_.on_event(s); }
  bool check_existing(Task& t);
  void schedule(size_t task, double at) { waiting_.emplace(at, task); }
  bool start_attempt(Task& t);        // opens the part file, then send_request
  void send_request(Task& t);
  void on_done(Task& t, CURLcode rc);
  void end_request(Task& t);           // detaches the easy handle, keeps the fd
  void close_part(Task& t);
  void discard_part(Task& t);          // removes the .part and its .part.meta
  void retry_or_fail(Task& t, const std::string& reason, bool counts, double server_wait);
  void fail(Task& t, const std::string& reason);
  void finish_ok(Task& t, uint64_t size);
  bool verify_and_commit(Task& t, uint64_t size, bool hashed_inline);
  void set_concurrency(double c);
  void ensure_dir(const std::string& dir);

  static size_t header_cb(char* p, size_t sz, size_t n, void* ud);
  static size_t write_cb(char* p, size_t sz, size_t n, void* ud);
  bool begin_body(Task& t);
  bool write_meta(Task& t);
  static Validators response_validators(const Task& t, bool size_known, uint64_t size);

  const std::vector<ManifestEntry>& entries_;
  const DownloadOptions& opt_;
  DownloadCounters& ctr_;
  const DownloadHooks& hooks_;
  std::vector<FileResult> results_;
  std::vector<Task> tasks_;
  std::deque<size_t> ready_;
  std::multimap<double, size_t> waiting_;
  std::vector<CURL*> pool_;
  std::set<std::string> dirs_;
  CURLM* multi_ = nullptr;
  int active_ = 0;
  double concurrency_ = 1;      // transfers allowed now (AIMD between 1 and opt_.connections)
  double last_decrease_ = -1e9; // when a 429 last halved concurrency_
  double pause_until_ = 0;      // no new request before this (after a 429)
  double next_request_at_ = 0;  // rate limit
  bool claims_done_ = true;     // the job's queue (hooks_.claim) has no more entries for this process
  std::mt19937_64 rng_;
};

void Engine::ensure_dir(const std::string& dir) {
  if (dirs_.count(dir)) return;
  make_dirs(dir);
  dirs_.insert(dir);
}

// The record a finished download carries: the manifest line that made it and
// the file's size, mtime and checksum (record.h).
CompletionRecord download_record(const ManifestEntry& e, const std::string& final_path) {
  CompletionRecord r;
  r.path = record_path_for(final_path);
  r.tool = "sp_download";
  r.options = {{"url", e.url},
               {"sha256", e.sha256.empty() ? "-" : e.sha256},
               {"size", e.size_known ? std::to_string(e.size) : "-"}};
  r.outputs = {FileIdentity{final_path}};
  return r;
}

// A file at its final name is skipped without a request only when its
// completion record vouches for it (written when sp_download put it there).
// Without one it is proven by the manifest's SHA-256, adopted with
// --adopt-existing, or downloaded again; a record that contradicts the file
// or the manifest line means downloading again.
bool Engine::check_existing(Task& t) {
  struct stat st;
  if (::lstat(t.final_path.c_str(), &st) != 0) return false;
  const auto& e = *t.entry;
  auto& r = results_[t.index];
  CompletionRecord expected = download_record(e, t.final_path);
  CompletionCheck check;
  try {
    check = check_completion(expected, opt_.verify_existing ? VerifyDepth::kFull : VerifyDepth::kQuick);
  } catch (const Error& err) {
    note(std::string(err.what()) + "; downloading again");
    return false;
  }
  // The manifest's SHA-256, when it has one, proves or disproves the bytes.
  auto sha_matches = [&]() -> bool {
    r.sha256 = sha256_file(t.final_path);
    if (r.sha256 != e.sha256)
      note(t.final_path + ": existing file has SHA-256 " + r.sha256 + ", manifest says " + e.sha256);
    return r.sha256 == e.sha256;
  };
  bool proven = check.state == Completion::kComplete;
  try {
    if (!proven && check.state == Completion::kUnrecorded && S_ISREG(st.st_mode) &&
        (!e.size_known || static_cast<uint64_t>(st.st_size) == e.size)) {
      proven = e.sha256.empty() ? opt_.adopt_existing : sha_matches();
      if (proven) {
        expected.outputs = {identify_output(t.final_path)};
        write_record(expected);
      }
    } else if (proven && opt_.verify_existing && !e.sha256.empty()) {
      proven = sha_matches();
    }
  } catch (const Error& err) {
    note(std::string(err.what()) + "; downloading again");
    return false;
  }
  if (!proven) {
    if (check.state != Completion::kComplete)
      note(t.final_path + ": " + check.reason +
           (check.state == Completion::kUnrecorded && e.sha256.empty() && !opt_.adopt_existing
                ? "; downloading again (--adopt-existing keeps such files)"
                : "; downloading again"));
    else
      note(t.final_path + ": downloading again");
    return false;
  }
  // A run killed between the rename and the sidecar's removal left the
  // sidecar of a .part that is gone: nothing will ever read it.
  if (!path_exists(t.part_path)) ::unlink(t.meta_path.c_str());
  r.outcome = FileOutcome::kAlreadyPresent;
  r.size = static_cast<uint64_t>(st.st_size);
  ctr_.files_done++;
  if (hooks_.on_progress) hooks_.on_progress(r.size, 1);
  return true;
}

bool Engine::start_attempt(Task& t) {
  try {
    ensure_dir(parent_dir(t.final_path));
  } catch (const Error& e) {
    fail(t, e.what());
    return false;
  }
  // Two processes appending to one .part would corrupt it: hold a lock.
  bool busy = false;
  try {
    t.fd = open_locked(t.part_path, /*create=*/true, &busy).release();
  } catch (const Error& e) {
    fail(t, e.what());
    return false;
  }
  if (busy) {
    fail(t, t.part_path + " is being written by another process (two runs over the same files?)");
    return false;
  }
  struct stat st;
  ::fstat(t.fd, &st);
  t.part_before = static_cast<uint64_t>(st.st_size);
  const auto& e = *t.entry;
  // Resume only bytes provably from the object the server has now: their
  // validators are recorded (then If-Range and a comparison guard the join),
  // or the manifest's SHA-256 will reject a wrong join at the end.
  const bool recorded = read_meta(t.meta_path, t.stored) && t.stored.usable();
  const bool unprovable = !recorded && e.sha256.empty();
  if (t.part_before > 0 && unprovable)
    note(t.part_path + ": no validator (strong ETag, Last-Modified) recorded for its bytes; starting over");
  if (t.part_before > 0 && (unprovable || (e.size_known && t.part_before > e.size))) {  // else: not a prefix
    if (::ftruncate(t.fd, 0) != 0) {
      fail(t, errno_message("cannot truncate", t.part_path));
      return false;
    }
    t.part_before = 0;
  }
  if (t.part_before == 0) t.stored = Validators{};  // nothing to resume: no If-Range, nothing to compare
  if (results_[t.index].requests == 0) results_[t.index].resumed_from = t.part_before;
  t.offset = t.part_before;
  // A complete .part left by a run killed between download and rename needs no request.
  if (e.size_known && t.part_before == e.size && e.size > 0) {
    verify_and_commit(t, e.size, false);  // done, or the part discarded and a retry scheduled
    return false;
  }
  t.url = e.url;
  t.redirects = 0;
  t.linked_etag.clear();
  t.linked_size.clear();
  send_request(t);
  return true;
}

void Engine::send_request(Task& t) {
  CURL* h;
  if (pool_.empty()) {
    h = curl_easy_init();
    if (!h) throw Error("libcurl: cannot create a transfer handle");
  } else {
    h = pool_.back();
    pool_.pop_back();
    curl_easy_reset(h);
  }
  t.easy = h;
  t.status = 0;
  t.retry_after.clear();
  t.ratelimit.clear();
  t.content_range.clear();
  t.location.clear();
  t.etag.clear();
  t.last_modified.clear();
  t.content_length = -1;
  t.body_begun = t.body_to_file = false;
  t.abort_reason.clear();
  t.abort_permanent = t.abort_restart = false;
  t.written = 0;
  t.expected_size = 0;
  t.expected_size_known = false;
  t.expected_sha.clear();
  t.curl_error[0] = 0;
  if (t.headers) curl_slist_free_all(t.headers);
  t.headers = nullptr;
  // Never forward the token off the manifest URL's origin (scheme, host, port):
  // redirects are followed here, not by libcurl, so this holds on every version.
  if (!opt_.bearer_token.empty() && url_origin(t.url) == url_origin(t.entry->url))
    t.headers = curl_slist_append(t.headers, ("Authorization: Bearer " + opt_.bearer_token).c_str());
  if (t.offset > 0) {
    t.headers = curl_slist_append(t.headers, ("Range: bytes=" + std::to_string(t.offset) + "-").c_str());
    // The server sends the whole file (200) instead when its object has changed.
    if (!t.stored.if_range().empty())
      t.headers = curl_slist_append(t.headers, ("If-Range: " + t.stored.if_range()).c_str());
  }
  // Identity bytes only: the SHA-256 and sizes refer to the file as stored.
  t.headers = curl_slist_append(t.headers, "Accept-Encoding: identity");

  curl_easy_setopt(h, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(h, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &Engine::header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Engine::write_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.curl_error);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);  // prefer multiplexing on an HTTP/2 connection
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt_.connect_timeout_s * 1000));
  // Stalls are detected in run() (libcurl's low-speed check averages over a
  // window, so it would fire seconds late after a burst of bytes).
  t.last_activity = now_s();
  t.stalled = false;
  curl_easy_setopt(h, CURLOPT_USERAGENT, (opt_.user_agent.empty() ? std::string("sp_download/") + SP_VERSION : opt_.user_agent).c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!opt_.ca_cert.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opt_.ca_cert.c_str());
  if (t.fresh_connection) {
    // After a transport fault the pooled connection may be the culprit (e.g.
    // junk bytes past a Content-Length): use a new one, and do not keep it.
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  }
  results_[t.index].requests++;
  ctr_.requests++;
  curl_multi_add_handle(multi_, h);
}

size_t Engine::header_cb(char* p, size_t sz, size_t n, void* ud) {
  Task& t = *static_cast<Task*>(ud);
  const size_t len = sz * n;
  t.last_activity = now_s();
  std::string line(p, len);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (e.g. after 100 Continue)
    size_t sp = line.find(' ');
    t.status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    t.retry_after.clear(), t.ratelimit.clear(), t.content_range.clear(), t.location.clear();
    t.etag.clear(), t.last_modified.clear();
    t.content_length = -1;
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = lower(trim(line.substr(0, colon)));
  std::string value = trim(line.substr(colon + 1));
  if (name == "retry-after") t.retry_after = value;
  else if (name == "ratelimit" || name == "ratelimit-reset") t.ratelimit = name == "ratelimit" ? value : "reset=" + value;
  else if (name == "content-range") t.content_range = value;
  else if (name == "location") t.location = value;
  else if (name == "content-length") t.content_length = std::strtoll(value.c_str(), nullptr, 10);
  else if (name == "x-linked-etag") t.linked_etag = strip_quotes(value);
  else if (name == "x-linked-size") t.linked_size = value;
  else if (name == "etag") t.etag = value;
  else if (name == "last-modified") t.last_modified = value;
  return len;
}

// Decides, at the first body byte, where the bytes go and what they must match.
bool Engine::begin_body(Task& t) {
  t.body_begun = true;
  const auto& e = *t.entry;
  if (t.status == 206) {
    // "bytes START-END/TOTAL": START must be exactly where the part ends.
    unsigned long long a = 0, b = 0;
    char total[32] = {0};
    if (std::sscanf(t.content_range.c_str(), "bytes %llu-%llu/%31s", &a, &b, total) != 3 || a != t.offset) {
      t.abort_reason = "bad Content-Range '" + t.content_range + "' for a request from byte " + std::to_string(t.offset);
      return false;
    }
    if (total[0] != '*') {
      t.expected_size = std::strtoull(total, nullptr, 10);
      t.expected_size_known = true;
    }
    const std::string why =
        changed_since(t.stored, response_validators(t, t.expected_size_known, t.expected_size), false);
    if (!why.empty()) {  // a server that ignored If-Range (or got none): the new tail does not fit the old head
      t.abort_reason = "the file changed on the server since its .part was written (" + why + "); starting over";
      t.abort_restart = true;
      return false;
    }
  } else if (t.status == 200) {
    if (t.offset > 0) {  // the server ignored Range: start the part over
      if (::ftruncate(t.fd, 0) != 0) {
        t.abort_reason = errno_message("cannot truncate", t.part_path);
        return false;
      }
      t.offset = 0;
    }
    if (t.content_length >= 0) {
      t.expected_size = static_cast<uint64_t>(t.content_length);
      t.expected_size_known = true;
    }
  } else {
    return true;  // an error page: kept out of the file
  }
  t.body_to_file = true;
  if (opt_.use_linked_etag && !t.linked_size.empty() && !t.expected_size_known) {
    t.expected_size = std::strtoull(t.linked_size.c_str(), nullptr, 10);
    t.expected_size_known = true;
  }
  if (e.size_known) {
    if (t.expected_size_known && t.expected_size != e.size) {
      t.abort_reason = "server reports " + std::to_string(t.expected_size) + " bytes, manifest says " + std::to_string(e.size);
      return false;
    }
    t.expected_size = e.size;
    t.expected_size_known = true;
  }
  if (t.expected_size_known && !e.size_known && hooks_.on_total_learned && !t.total_reported) {
    t.total_reported = true;
    hooks_.on_total_learned(t.expected_size);
  }
  if (t.offset == 0 && !write_meta(t)) return false;
  t.expected_sha = e.sha256;
  if (t.expected_sha.empty() && opt_.use_linked_etag && is_sha256_hex(t.linked_etag)) t.expected_sha = lower(t.linked_etag);
  t.hash.reset();
  if (!t.expected_sha.empty()) {
    t.hash = std::make_unique<Sha256>();
    try {
      if (t.offset) sha256_update_from_file(*t.hash, t.part_path, t.offset);
    } catch (const Error& err) {
      t.abort_reason = err.what();
      return false;
    }
  }
  return true;
}

Validators Engine::response_validators(const Task& t, bool size_known, uint64_t size) {
  Validators v;
  if (t.etag.rfind("W/", 0) != 0) v.etag = t.etag;
  v.last_modified = t.last_modified;
  v.linked_etag = t.linked_etag;
  v.size = size;
  v.size_known = size_known;
  return v;
}

// Records the validators of an answer that starts the .part (before its first
// byte), so that a resume of these bytes, now or in a later run, can be proven.
bool Engine::write_meta(Task& t) {
  const std::string text = format_meta(response_validators(t, t.expected_size_known, t.expected_size));
  int err = 0;
  try {
    UniqueFd fd(::open(t.meta_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) throw IoError(errno, errno_message("cannot create", t.meta_path));
    write_all(fd.get(), text.data(), text.size(), t.meta_path);
    if (::close(fd.release()) != 0) throw IoError(errno, errno_message("cannot write", t.meta_path));
    return true;
  } catch (const IoError& e) {
    err = e.error_number;
    t.abort_reason = e.what();
  }
  t.abort_permanent = err == ENOSPC || err == EDQUOT || err == EROFS;
  ::unlink(t.meta_path.c_str());  // a torn sidecar must not vouch for these bytes
  return false;
}

size_t Engine::write_cb(char* p, size_t sz, size_t n, void* ud) {
  Task& t = *static_cast<Task*>(ud);
  Engine& eng = *t.engine;
  const size_t len = sz * n;
  t.last_activity = now_s();
  if (!t.body_begun && !eng.begin_body(t)) return 0;
  if (!t.body_to_file) return len;  // error body: discarded
  if (t.expected_size_known && t.offset + t.written + len > t.expected_size) {
    t.abort_reason = "server sent more than the expected " + std::to_string(t.expected_size) + " bytes";
    return 0;
  }
  try {
    pwrite_all(t.fd, p, len, t.offset + t.written, t.part_path);
  } catch (const IoError& e) {
    t.abort_reason = e.what();
    t.abort_permanent = e.error_number == ENOSPC || e.error_number == EDQUOT || e.error_number == EROFS;
    return 0;
  }
  if (t.hash) t.hash->update(p, len);
  t.written += len;
  eng.results_[t.index].bytes_received += len;
  eng.ctr_.bytes += len;
  if (eng.hooks_.on_progress) eng.hooks_.on_progress(len, 0);
  return len;
}

void Engine::end_request(Task& t) {
  if (t.easy) {
    curl_multi_remove_handle(multi_, t.easy);
    pool_.push_back(t.easy);
    t.easy = nullptr;
  }
  if (t.headers) curl_slist_free_all(t.headers);
  t.headers = nullptr;
}

void Engine::close_part(Task& t) {
  if (t.fd >= 0) ::close(t.fd);  // also releases the flock
  t.fd = -1;
  t.hash.reset();
}

void Engine::discard_part(Task& t) {
  ::unlink(t.part_path.c_str());
  ::unlink(t.meta_path.c_str());
}

void Engine::fail(Task& t, const std::string& reason) {
  // A .part without bytes is of no use to a later run: remove it (and its
  // sidecar) while the lock is still held, so no other process's file is hit.
  struct stat st;
  if (t.fd >= 0 && ::fstat(t.fd, &st) == 0 && st.st_size == 0) discard_part(t);
  close_part(t);
  auto& r = results_[t.index];
  r.outcome = FileOutcome::kFailed;
  r.error = reason;
  ctr_.files_failed++;
  note(t.entry->url + ": FAILED: " + reason);
}

void Engine::set_concurrency(double c) {
  concurrency_ = std::clamp(c, 1.0, static_cast<double>(opt_.connections));
  ctr_.concurrency = static_cast<uint64_t>(concurrency_);
  ctr_.lowest_concurrency = std::min(ctr_.lowest_concurrency.load(), ctr_.concurrency.load());
}

void Engine::finish_ok(Task& t, uint64_t size) {
  // Additive increase: about one more transfer per round of `concurrency_` finished files.
  set_concurrency(concurrency_ + 1.0 / concurrency_);
  auto& r = results_[t.index];
  r.outcome = FileOutcome::kDownloaded;
  r.size = size;
  ctr_.files_done++;
  if (hooks_.on_progress) hooks_.on_progress(0, 1);
}

// Checks the complete part against the expected size and SHA-256 and renames it
// into place. Returns true when the file is done; otherwise the part has been
// removed and the task scheduled for a retry (or failed).
bool Engine::verify_and_commit(Task& t, uint64_t size, bool hashed_inline) {
  auto& r = results_[t.index];
  std::string expected = t.entry->sha256;
  if (hashed_inline) expected = t.expected_sha;
  if (!expected.empty()) {
    std::string got;
    try {
      if (hashed_inline && t.hash) got = t.hash->hex_digest();
      else got = sha256_file(t.part_path);
    } catch (const Error& e) {
      retry_or_fail(t, e.what(), true, -1);
      return false;
    }
    r.sha256 = got;
    if (got != expected) {
      discard_part(t);  // wrong bytes: resuming from them would never succeed
      retry_or_fail(t, "SHA-256 mismatch: expected " + expected + ", got " + got, true, -1);
      return false;
    }
  }
  try {
    std::vector<CompletionRecord> records{download_record(*t.entry, t.final_path)};
    build_recorded(records, [&] {
      durable_rename(t.fd, t.part_path, t.final_path);
      return BuildResult{};
    });
  } catch (const Error& e) {
    fail(t, e.what());
    return false;
  }
  failpoint("download.after_record");
  ::unlink(t.meta_path.c_str());
  close_part(t);
  finish_ok(t, size);
  return true;
}

void Engine::retry_or_fail(Task& t, const std::string& reason, bool counts, double server_wait) {
  auto& r = results_[t.index];
  if (counts) t.failures++;
  if (t.failures > opt_.retries) {
    fail(t, reason + (opt_.retries > 0 ? " (after " + std::to_string(opt_.retries) + " retries)" : ""));
    return;
  }
  close_part(t);
  r.retries++;
  ctr_.retries++;
  double wait = server_wait >= 0 ? std::min(server_wait, opt_.max_retry_wait_s)
                                 : backoff_delay(std::max(1, t.failures), opt_.retry_base_delay_s, opt_.max_retry_wait_s,
                                                 std::uniform_real_distribution<double>(0, 1)(rng_));
  if (!counts && server_wait < 0) wait = 0;  // progress was made: resume at once
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f s", wait);
  note(t.entry->url + ": " + reason + "; retry " + std::to_string(r.retries) + " in " + buf);
  schedule(t.index, now_s() + wait);
}

void Engine::on_done(Task& t, CURLcode rc) {
  const long status = t.status;
  results_[t.index].last_http_status = status;
  end_request(t);
  t.fresh_connection = rc != CURLE_OK;
  // Redirect: follow it here so the token stays on its origin (see send_request).
  if (rc == CURLE_OK && status >= 300 && status < 400 && status != 304 && !t.location.empty()) {
    std::string next = resolve_url(t.url, t.location);
    if (next.empty() || (next.rfind("http://", 0) != 0 && next.rfind("https://", 0) != 0)) {
      retry_or_fail(t, "HTTP " + std::to_string(status) + " to an unusable Location '" + t.location + "'", true, -1);
      return;
    }
    if (++t.redirects > opt_.max_redirects) {
      fail(t, "more than " + std::to_string(opt_.max_redirects) + " redirects");
      return;
    }
    t.url = next;
    send_request(t);
    return;
  }
  struct stat st;
  uint64_t part_now = (t.fd >= 0 && ::fstat(t.fd, &st) == 0) ? static_cast<uint64_t>(st.st_size) : 0;
  const bool progressed = part_now > t.part_before;
  if (t.abort_permanent) {
    fail(t, t.abort_reason);
    return;
  }
  if (!t.abort_reason.empty()) {
    // Inconsistent bytes: drop the part. A changed object is no fault: restart at once.
    discard_part(t);
    retry_or_fail(t, t.abort_reason, !t.abort_restart, -1);
    return;
  }
  if (rc != CURLE_OK) {
    std::string why = t.curl_error[0] ? t.curl_error : curl_easy_strerror(rc);
    if (t.stalled) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "stalled: no data for %.0f s", opt_.stall_timeout_s);
      why = buf;
    }
    if (rc == CURLE_SSL_CACERT_BADFILE) {
      fail(t, why + " (the CA certificates from --ca-cert, CURL_CA_BUNDLE or SSL_CERT_FILE cannot be used: "
                    "give a PEM file)");
      return;
    }
    if (is_certificate_error(rc)) {
      fail(t, why + " (the server's TLS certificate cannot be verified, and retrying cannot change that; if a private"
                    " CA signed it, pass that CA with --ca-cert FILE, or set SSL_CERT_FILE or CURL_CA_BUNDLE)");
      return;
    }
    if (rc == CURLE_URL_MALFORMAT) {
      fail(t, why);
      return;
    }
    // Connection errors, resets, stalls, short bodies, and garbage where a
    // response should start (CURLE_UNSUPPORTED_PROTOCOL "Received HTTP/0.9",
    // CURLE_WEIRD_SERVER_REPLY: typically bytes left over past the previous
    // response's Content-Length): retry on a fresh connection, resuming from what arrived.
    retry_or_fail(t, why, !progressed, -1);
    return;
  }
  if (status == 200 || status == 206) {
    if (!t.body_begun && !begin_body(t)) {  // an empty body never reached write_cb
      if (t.abort_permanent) {
        fail(t, t.abort_reason);
        return;
      }
      discard_part(t);
      retry_or_fail(t, t.abort_reason, !t.abort_restart, -1);
      return;
    }
    const uint64_t size = t.offset + t.written;
    if (t.expected_size_known && size < t.expected_size) {
      retry_or_fail(t, "body cut short at " + std::to_string(size) + " of " + std::to_string(t.expected_size) + " bytes",
                    !progressed, -1);
      return;
    }
    verify_and_commit(t, size, true);
    return;
  }
  if (status == 416) {
    // The part already reaches the end (or beyond): "bytes */TOTAL".
    unsigned long long total = 0;
    const bool parsed = std::sscanf(t.content_range.c_str(), "bytes */%llu", &total) == 1;
    const std::string why = changed_since(t.stored, response_validators(t, parsed, total), true);
    if (!why.empty()) {
      discard_part(t);
      retry_or_fail(t, "the file changed on the server since its .part was written (" + why + "); starting over",
                    false, -1);
      return;
    }
    if (parsed && total == t.offset && t.offset > 0 && (!t.entry->size_known || t.entry->size == total)) {
      t.expected_sha = t.entry->sha256;
      if (t.expected_sha.empty() && opt_.use_linked_etag && is_sha256_hex(t.linked_etag)) t.expected_sha = lower(t.linked_etag);
      t.hash.reset();
      verify_and_commit(t, total, true);  // hashes from disk: no inline hash
      return;
    }
    discard_part(t);
    retry_or_fail(t, "HTTP 416 for a resume from byte " + std::to_string(t.offset) + "; starting over", true, -1);
    return;
  }
  const std::string what = "HTTP " + std::to_string(status);
  if (status == 429 || status == 408 || status >= 500) {
    double wait = server_retry_wait(t.retry_after, t.ratelimit, static_cast<double>(std::time(nullptr)));
    if (status == 429 || (status == 503 && wait >= 0)) {
      // Rate limited: the whole process backs off, not only this file.
      ctr_.rate_limited++;
      double w = wait >= 0 ? std::min(wait, opt_.max_retry_wait_s)
                           : backoff_delay(std::max(1, t.failures + 1), opt_.retry_base_delay_s, opt_.max_retry_wait_s, 1.0);
      const double now = now_s();
      // Multiplicative decrease, once per pause: the transfers already running
      // when the server pushed back answer 429 together, and are one signal.
      if (now >= pause_until_ && now - last_decrease_ > 0.5) {
        set_concurrency(std::floor(concurrency_ / 2));
        last_decrease_ = now;
      }
      pause_until_ = std::max(pause_until_, now + w);
      if (hooks_.share_pause_until) hooks_.share_pause_until(static_cast<double>(std::time(nullptr)) + w);
    }
    retry_or_fail(t, what + (wait >= 0 ? " (server asks to wait " + std::to_string(static_cast<long>(wait)) + " s)" : ""),
                  true, wait);
    return;
  }
  if (status == 0) {
    retry_or_fail(t, "no HTTP response", true, -1);
    return;
  }
  fail(t, what + (status == 404 ? " Not Found" : status == 403 ? " Forbidden" : status == 410 ? " Gone"
                 : status == 401 ? " Unauthorized (set HF_TOKEN?)" : ""));
}

// Entries come from the job's queue one at a time, when a transfer slot is
// free (so a rank never holds more than it can start), or all at once.
bool Engine::take_more(double now) {
  if (!hooks_.claim) return false;
  while (!claims_done_ && ready_.empty() && active_ < static_cast<int>(concurrency_) && now >= pause_until_) {
    const std::optional<size_t> i = hooks_.claim();
    if (!i) {
      claims_done_ = true;
      break;
    }
    results_[*i].outcome = FileOutcome::kFailed;  // until it is done
    if (!check_existing(tasks_[*i])) ready_.push_back(*i);
  }
  return !claims_done_;
}

void Engine::follow_job_pause(double now) {
  if (!hooks_.job_pause_until) return;
  const double left = hooks_.job_pause_until() - static_cast<double>(std::time(nullptr));
  if (left > 0) pause_until_ = std::max(pause_until_, now + left);
}

std::vector<FileResult> Engine::run() {
  tasks_.resize(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    Task& t = tasks_[i];
    t.index = i;
    t.engine = this;
    t.entry = &entries_[i];
    t.final_path = opt_.output_dir + "/" + entries_[i].path;
    t.part_path = t.final_path + ".part";
    t.meta_path = t.part_path + ".meta";
    if (hooks_.claim) results_[i].outcome = FileOutcome::kNotTaken;
    else if (!check_existing(t)) ready_.push_back(i);
  }
  if (ready_.empty() && !hooks_.claim) return std::move(results_);

  claims_done_ = !hooks_.claim;
  multi_ = curl_multi_init();
  if (!multi_) throw Error("libcurl: cannot create a multi handle");
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(opt_.connections));
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(opt_.connections * 2));

  ctr_.lowest_concurrency = static_cast<uint64_t>(opt_.connections);
  set_concurrency(opt_.connections);
  const double min_gap = opt_.max_requests_per_second > 0 ? 1.0 / opt_.max_requests_per_second : 0;
  bool stopping = false;
  double last_stall_check = 0;
  while (active_ > 0 || (!stopping && (!ready_.empty() || !waiting_.empty() || !claims_done_))) {
    const double now = now_s();
    if (!stopping && hooks_.should_stop && hooks_.should_stop()) stopping = true;
    if (!stopping) {
      follow_job_pause(now);
      take_more(now);
      while (!waiting_.empty() && waiting_.begin()->first <= now) {
        ready_.push_back(waiting_.begin()->second);
        waiting_.erase(waiting_.begin());
      }
      while (active_ < static_cast<int>(concurrency_) && !ready_.empty() && now >= pause_until_ &&
             now >= next_request_at_) {
        Task& t = tasks_[ready_.front()];
        ready_.pop_front();
        if (start_attempt(t)) {
          ++active_;
          next_request_at_ = std::max(next_request_at_, now) + min_gap;
        }
      }
    }
    ctr_.in_flight = static_cast<uint64_t>(active_);
    ctr_.pause_left_s = std::max(0.0, pause_until_ - now);
    if (stopping && active_ > 0) {  // abandon transfers; their .part files stay for the next run
      for (auto& t : tasks_)
        if (t.easy) {
          end_request(t);
          fail(t, "interrupted");
          --active_;
        }
      break;
    }
    if (now - last_stall_check >= 0.1) {
      last_stall_check = now;
      for (auto& t : tasks_)
        if (t.easy && now - t.last_activity > opt_.stall_timeout_s) {
          t.stalled = true;
          on_done(t, CURLE_OPERATION_TIMEDOUT);  // detaches the handle; the .part is kept for a resume
          if (!t.easy) --active_;
        }
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    while (CURLMsg* m = curl_multi_info_read(multi_, &running)) {
      if (m->msg != CURLMSG_DONE) continue;
      Task* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      CURLcode rc = m->data.result;
      on_done(*t, rc);
      if (!t->easy) --active_;  // finished, failed or waiting for a retry (not a redirect hop)
    }
    if (active_ == 0 && (stopping || (ready_.empty() && waiting_.empty() && claims_done_))) break;
    // Sleep until socket activity or the next timed event.
    double wake = 0.2;
    if (!waiting_.empty()) wake = std::min(wake, waiting_.begin()->first - now_s());
    if (!ready_.empty() && active_ < static_cast<int>(concurrency_))
      wake = std::min(wake, std::max(pause_until_, next_request_at_) - now_s());
    int timeout_ms = std::clamp(static_cast<int>(std::ceil(wake * 1000)), 0, 200);
    if (active_ > 0) curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
    else if (timeout_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
  }
  if (stopping) {
    for (auto& t : tasks_)
      if (results_[t.index].outcome == FileOutcome::kFailed && results_[t.index].error.empty())
        results_[t.index].error = "interrupted before completion";
  }
  ctr_.in_flight = 0;
  return std::move(results_);
}

std::once_flag g_curl_init;

}  // namespace

std::vector<FileResult> download_all(const std::vector<ManifestEntry>& entries, const DownloadOptions& options,
                                     DownloadCounters& counters, const DownloadHooks& hooks) {
  std::call_once(g_curl_init, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl: global initialisation failed");
  });
  if (options.connections < 1) throw UsageError("--connections must be at least 1");
  Engine engine(entries, options, counters, hooks);
  return engine.run();
}

std::vector<uint64_t> DownloadTotals::counts() const {
  return {files, downloaded, already_present, failed, bytes_received, requests, retries, rate_limited};
}

DownloadTotals DownloadTotals::from_counts(const std::vector<uint64_t>& c, double seconds) {
  DownloadTotals t;
  if (c.size() != 8) throw Error("internal: download totals need 8 counts");
  t.files = c[0], t.downloaded = c[1], t.already_present = c[2], t.failed = c[3], t.bytes_received = c[4];
  t.requests = c[5], t.retries = c[6], t.rate_limited = c[7];
  t.seconds = seconds;
  return t;
}

DownloadTotals download_totals(const std::vector<FileResult>& results, const DownloadCounters& counters,
                               double seconds) {
  DownloadTotals t;
  for (const auto& r : results) {
    if (r.outcome == FileOutcome::kNotTaken) continue;
    ++t.files;
    t.downloaded += r.outcome == FileOutcome::kDownloaded;
    t.already_present += r.outcome == FileOutcome::kAlreadyPresent;
    t.failed += r.outcome == FileOutcome::kFailed;
    t.bytes_received += r.bytes_received;
  }
  t.requests = counters.requests.load();
  t.retries = counters.retries.load();
  t.rate_limited = counters.rate_limited.load();
  t.seconds = seconds;
  return t;
}

std::string download_totals_json(const DownloadTotals& t) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", t.seconds);
  return "\"files_total\": " + std::to_string(t.files) + ", \"downloaded\": " + std::to_string(t.downloaded) +
         ", \"already_present\": " + std::to_string(t.already_present) + ", \"failed\": " + std::to_string(t.failed) +
         ", \"bytes_received\": " + std::to_string(t.bytes_received) + ", \"requests\": " +
         std::to_string(t.requests) + ", \"retries\": " + std::to_string(t.retries) + ", \"rate_limited\": " +
         std::to_string(t.rate_limited) + ", \"seconds\": " + seconds;
}

std::string download_file_json(const ManifestEntry& e, const FileResult& r) {
  std::string s = "{\"url\": " + json_quote(e.url) + ", \"path\": " + json_quote(e.path) + ", \"status\": " +
                  json_quote(outcome_name(r.outcome)) + ", \"size\": " + std::to_string(r.size) +
                  ", \"bytes_received\": " + std::to_string(r.bytes_received) + ", \"resumed_from\": " +
                  std::to_string(r.resumed_from) + ", \"requests\": " + std::to_string(r.requests) +
                  ", \"retries\": " + std::to_string(r.retries) + ", \"http_status\": " +
                  std::to_string(r.last_http_status);
  if (!r.sha256.empty()) s += ", \"sha256\": " + json_quote(r.sha256);
  if (r.outcome == FileOutcome::kFailed) s += ", \"error\": " + json_quote(r.error);
  return s + "}";
}

void write_download_report(const std::string& path, const DownloadTotals& totals, int world,
                           const std::vector<std::string>& rank_totals_json, const std::vector<std::string>& files_json) {
  std::string s = "{\n  \"world_size\": " + std::to_string(world) + ", " + download_totals_json(totals) + ",\n";
  if (!rank_totals_json.empty()) {
    s += "  \"ranks\": [";
    for (size_t i = 0; i < rank_totals_json.size(); ++i) s += (i ? ",\n    " : "\n    ") + rank_totals_json[i];
    s += "\n  ],\n";
  }
  s += "  \"files\": [";
  for (size_t i = 0; i < files_json.size(); ++i) s += (i ? ",\n    " : "\n    ") + files_json[i];
  s += files_json.empty() ? "]\n}\n" : "\n  ]\n}\n";
  make_dirs(parent_dir(path));
  AtomicFile f(path);
  f.write(s);
  f.commit();
}

}  // namespace sp
