#include "net/server_reachability.h"

#include <spdlog/spdlog.h>

namespace dlfs {

ServerReachability::ServerReachability(std::function<bool()> probe, std::chrono::milliseconds interval)
    : probe_(std::move(probe)), interval_(interval) {}

ServerReachability::~ServerReachability() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (prober_.joinable()) prober_.join();
}

bool ServerReachability::away() const {
  std::lock_guard lock(mu_);
  return away_;
}

std::string ServerReachability::why() const {
  std::lock_guard lock(mu_);
  return away_ ? why_ : std::string();
}

void ServerReachability::failed(const Status& failure) {
  std::lock_guard lock(mu_);
  why_ = failure.to_string();
  if (away_ || stopping_) return;
  away_ = true;
  spdlog::warn("the server is away ({}); answering from what is known here until it answers again", why_);
  if (!probing_) {
    // The previous prober has cleared probing_ as its last act under mu_: joining it cannot wait
    // on this lock.
    if (prober_.joinable()) prober_.join();
    probing_ = true;
    prober_ = std::thread([this] { probe_loop(); });
  }
}

void ServerReachability::answered() {
  {
    std::lock_guard lock(mu_);
    if (!away_) return;
    away_ = false;
    why_.clear();
  }
  spdlog::info("the server answers again");
  cv_.notify_all();
}

void ServerReachability::probe_loop() {
  std::unique_lock lock(mu_);
  while (away_ && !stopping_) {
    if (cv_.wait_for(lock, interval_, [this] { return !away_ || stopping_; })) break;
    lock.unlock();
    probe_();  // reports through failed()/answered()
    lock.lock();
  }
  probing_ = false;
}

}  // namespace dlfs
