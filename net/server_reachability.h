// Whether a server answers at all, as its client last saw it. A transport failure (no connection,
// a stall past the bound) marks it away; any HTTP answer, error codes included, marks it back.
// While it is away a background probe asks every `interval`, so that the client learns it is
// back without a user's request having to wait on a server that may never answer.
//
// What "away" is for: callers that have something local to answer with (a mount's listings in
// memory, its spool) answer from it at once instead of waiting a stall bound per request. Callers
// with nothing local (a read of bytes not cached) still ask, and wait within their bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"

namespace dlfs {

class ServerReachability {
 public:
  // `probe` sends one cheap request, bounded in time, and answers whether the server answered
  // (it reports through failed()/answered() as any request does). It runs on the prober thread.
  ServerReachability(std::function<bool()> probe, std::chrono::milliseconds interval);
  ~ServerReachability();  // stops the prober (waiting for a probe in flight)
  ServerReachability(const ServerReachability&) = delete;
  ServerReachability& operator=(const ServerReachability&) = delete;

  bool away() const;
  // Why it is away ("" when it is not): the failure that marked it.
  std::string why() const;
  // What a request saw: a transport failure, or an answer.
  void failed(const Status& failure);
  void answered();

 private:
  void probe_loop();

  std::function<bool()> probe_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // back, or stopping
  bool away_ = false;
  std::string why_;
  bool probing_ = false;   // the prober thread runs (it clears this as its last act)
  bool stopping_ = false;
  std::thread prober_;
};

}  // namespace dlfs
