#pragma once
// The CronJob a Chartmuseum resource gets: a pure function of the resource and the
// operator's options (golden-tested in test/operate/test_cronjob.cpp).
#include <rapidjson/document.h>

#include <string>

#include "cmop/operate/controller_options.hpp"

namespace cmop::operate {

// The name of a resource's CronJob. The API server refuses CronJob names over 52
// characters (its Jobs append an 11-character suffix within the 63 a name may have):
// a longer resource name keeps its first 41 characters and gets "-" and 10 hex digits
// of the SHA-256 of the whole name, stable across restarts and distinct per name.
std::string cronjob_name_for(const std::string& resource_name);

// What of a resource its CronJob depends on.
struct CronJobTarget {
  std::string ns, name, uid;  // the resource (the CronJob's namespace and controller owner)
  long every_minutes = 15;    // spec.updateEveryMinutes (validated)
  bool suspend = false;       // spec.suspend
};

// The CronJob as the operator creates it: labels, owner reference, the spread
// schedule (schedule_for_minutes), `cmop trigger NAME` with the repo's trigger token
// (or the token Secret), and a pod fit for the "restricted" Pod Security Standard.
rapidjson::Document desired_cronjob(const CronJobTarget& target, const ControllerOptions& options);

}  // namespace cmop::operate
