// The one mutex of Probity, annotated for Clang's thread-safety analysis (-Wthread-safety), and
// the annotation macros. Data a mutex protects is declared GUARDED_BY(mu_); a helper that
// expects the caller to hold it is declared REQUIRES(mu_); then clang rejects, at compile time,
// any read or write of that data without the lock (tools/test builds build-tsa with
// -Werror=thread-safety). Under other compilers the macros expand to nothing and the classes are
// plain std::mutex / std::condition_variable.
//
//   class Counter {
//    public:
//     void Add() EXCLUDES(mu_) { MutexLock l(&mu_); ++n_; }
//    private:
//     Mutex mu_;
//     int n_ GUARDED_BY(mu_) = 0;
//   };
//
// Waiting on a condition: hold the lock and loop, so the analysis sees every read under it:
//   MutexLock l(&mu_);
//   while (queue_.empty()) cv_.Wait(&mu_);
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define PROBITY_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define PROBITY_THREAD_ANNOTATION_(x)
#endif

// A type that is a lock ("mutex").
#define CAPABILITY(x) PROBITY_THREAD_ANNOTATION_(capability(x))
// An RAII type that holds a lock for its lifetime.
#define SCOPED_CAPABILITY PROBITY_THREAD_ANNOTATION_(scoped_lockable)
// A member read or written only with the lock held.
#define GUARDED_BY(x) PROBITY_THREAD_ANNOTATION_(guarded_by(x))
// A pointer whose pointee is read or written only with the lock held.
#define PT_GUARDED_BY(x) PROBITY_THREAD_ANNOTATION_(pt_guarded_by(x))
// The caller MUST hold the lock(s).
#define REQUIRES(...) PROBITY_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
// The caller MUST NOT hold the lock(s) (the function takes them itself).
#define EXCLUDES(...) PROBITY_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// The function takes / releases the lock(s) and returns with them held / not held.
#define ACQUIRE(...) PROBITY_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define RELEASE(...) PROBITY_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
// The function takes the lock(s) only when it returns `x`.
#define TRY_ACQUIRE(...) PROBITY_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
// Tells the analysis the lock is held here (checked by nothing at run time).
#define ASSERT_CAPABILITY(x) PROBITY_THREAD_ANNOTATION_(assert_capability(x))
// Opts one function out of the analysis; say why beside it.
#define NO_THREAD_SAFETY_ANALYSIS PROBITY_THREAD_ANNOTATION_(no_thread_safety_analysis)

namespace probity {

class CondVar;

// A non-recursive mutex (std::mutex underneath). Prefer MutexLock to Lock/Unlock.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Takes the lock if it is free; true if it did.
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` from construction to destruction.
class SCOPED_CAPABILITY MutexLock {
 public:
  // REQUIRES: mu outlives the lock; the calling thread does not hold it already.
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable used with a Mutex (std::condition_variable underneath). Wait and WaitUntil
// atomically release `mu`, sleep until notified (or spuriously, or until a deadline), and take `mu`
// again before returning, so callers re-check their condition in a loop. (There is no
// predicate overload: a predicate lambda is a separate function to the analysis, which cannot
// see that it runs under the lock.)
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // REQUIRES: the calling thread holds mu (and returns holding it).
  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();  // still held: ownership goes back to the caller's MutexLock
  }
  // As Wait, but gives up at `deadline`. Returns false if it timed out, true if notified (or
  // woken spuriously). A loop that waits for a condition with a time limit keeps one deadline:
  //   while (!ready_ && cv_.WaitUntil(&mu_, deadline)) {}
  template <class Clock, class Duration>
  bool WaitUntil(Mutex* mu, std::chrono::time_point<Clock, Duration> deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    const bool notified = cv_.wait_until(l, deadline) == std::cv_status::no_timeout;
    l.release();
    return notified;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace probity
