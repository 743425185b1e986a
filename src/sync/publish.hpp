#pragma once
// The sync's publish step (with Workspace::Impl::publish_chart and
// withdraw_vanished in publish.cpp): the batch every upload and removal of one
// sync is part of.
#include "cmop/publish/publisher.hpp"

namespace cmop::sync {

// One batch per sync, so the publish target's own index is rewritten once, not
// per chart. Ended by end() (which throws what the publisher's end_batch throws)
// or, on the way out by an exception, by the destructor (which swallows it: the
// exception under way is the one to report).
class PublishBatch {
 public:
  explicit PublishBatch(publish::Publisher& publisher) : publisher_(publisher) { publisher_.begin_batch(); }
  PublishBatch(const PublishBatch&) = delete;
  PublishBatch& operator=(const PublishBatch&) = delete;
  void end() {
    open_ = false;
    publisher_.end_batch();
  }
  ~PublishBatch() {
    if (!open_) return;
    try {
      publisher_.end_batch();
    } catch (...) {
    }
  }

 private:
  publish::Publisher& publisher_;
  bool open_ = true;
};

}  // namespace cmop::sync
