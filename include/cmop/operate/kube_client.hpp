#pragma once
// A Kubernetes API client sized for the operator: JSON objects as RapidJSON documents,
// the verbs the controller needs, and watches as a stream of {type, object} events.
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/operate/json.hpp"

namespace cmop::operate {

// How to reach and authenticate to the API server.
struct KubeConfig {
  std::string server;            // https://host:port (no trailing slash)
  net::TlsOptions tls;
  std::string token;             // static bearer token
  std::filesystem::path token_file;  // re-read periodically (projected tokens rotate)
  std::string default_namespace = "default";
};

// In-cluster: KUBERNETES_SERVICE_HOST/PORT and the mounted service account under
// sa_dir ({token,ca.crt,namespace}). Throws Error(invalid_argument) when not in a pod.
KubeConfig in_cluster_config(const std::filesystem::path& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");
// A kubeconfig file, its current-context; relative file references are resolved
// against the file's directory, as kubectl does.
KubeConfig kubeconfig_from_file(const std::filesystem::path& path);
// --kubeconfig, else $KUBECONFIG (first entry), else in-cluster.
KubeConfig load_kube_config(const std::string& kubeconfig_flag);

// A failure answered by the API server, with its Status object's fields.
class KubeApiError : public Error {
 public:
  KubeApiError(int http_status, std::string status_reason, std::string subject, std::string message,
               int retry_after_seconds = 0);
  int http_status() const noexcept { return http_status_; }
  // The answer's Retry-After (seconds; 0 = none): how long the server asks us to wait.
  int retry_after_seconds() const noexcept { return retry_after_seconds_; }
  // The Status reason: NotFound, AlreadyExists, Conflict, Expired, Gone, Invalid, ...
  const std::string& status_reason() const noexcept { return status_reason_; }
  bool not_found() const noexcept { return http_status_ == 404; }
  bool conflict() const noexcept { return http_status_ == 409; }
  bool gone() const noexcept { return http_status_ == 410; }

 private:
  int http_status_;
  std::string status_reason_;
  int retry_after_seconds_;
};

// One kind of resource: its API prefix ("/api/v1" or "/apis/GROUP/VERSION") and plural.
struct ResourceType {
  std::string api_prefix;
  std::string plural;
};

namespace resources {
inline const ResourceType chartmuseums{"/apis/cm.bitnami.com/v1alpha1", "chartmuseums"};
inline const ResourceType cronjobs{"/apis/batch/v1", "cronjobs"};
inline const ResourceType events{"/api/v1", "events"};
inline const ResourceType secrets{"/api/v1", "secrets"};
inline const ResourceType leases{"/apis/coordination.k8s.io/v1", "leases"};
}  // namespace resources

struct WatchOptions {
  std::string resource_version;  // "" = from now with synthetic ADDED events
  bool allow_bookmarks = true;
  int timeout_seconds = 300;     // the server ends the stream after this
  std::string label_selector;
  // Optional: polled while the stream is quiet; true ends the watch within ~100 ms
  // (Error(network) "cancelled"), so a shutdown never waits for the server's timeout.
  std::function<bool()> cancelled;
};

// A watch event. type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (object is then a Status).
struct WatchEvent {
  std::string type;
  rapidjson::Value& object;
};

class KubeClient {
 public:
  explicit KubeClient(KubeConfig config);

  // ns empty = all namespaces (list/watch only).
  rapidjson::Document get(const ResourceType& type, std::string_view ns, std::string_view name) const;
  rapidjson::Document list(const ResourceType& type, std::string_view ns, std::string_view label_selector = {}) const;
  rapidjson::Document create(const ResourceType& type, std::string_view ns, const rapidjson::Value& object) const;
  // PUT; the object's metadata.resourceVersion is the precondition (409 when stale).
  rapidjson::Document update(const ResourceType& type, std::string_view ns, std::string_view name,
                             const rapidjson::Value& object) const;
  rapidjson::Document update_status(const ResourceType& type, std::string_view ns, std::string_view name,
                                    const rapidjson::Value& object) const;
  // JSON merge patch (RFC 7386).
  rapidjson::Document merge_patch(const ResourceType& type, std::string_view ns, std::string_view name,
                                  const rapidjson::Value& patch) const;
  // Returns false when the object was already gone (404); other failures throw.
  bool remove(const ResourceType& type, std::string_view ns, std::string_view name) const;

  // Every request honours a 429's Retry-After as client-go does: it is sent again after
  // that many seconds (at most kMaxRetryAfterSeconds each time, kMaxRetries times), then
  // the 429 is thrown.
  static constexpr int kMaxRetries = 5;
  static constexpr int kMaxRetryAfterSeconds = 10;

  // Blocks, calling on_event for each event until the server ends the stream (returns
  // normally) or on_event returns false. Connection failures throw Error(network);
  // a non-200 answer throws KubeApiError.
  void watch(const ResourceType& type, std::string_view ns, const WatchOptions& options,
             const std::function<bool(WatchEvent&)>& on_event) const;

  const KubeConfig& config() const noexcept { return config_; }

 private:
  std::string path(const ResourceType& type, std::string_view ns, std::string_view name,
                   std::string_view subresource) const;
  net::Request request(std::string method, std::string path) const;
  rapidjson::Document call(net::Request req) const;
  std::string bearer_token() const;

  KubeConfig config_;
  net::HttpClient http_;
  mutable std::mutex token_mutex_;
  mutable std::string cached_token_;
  mutable std::chrono::steady_clock::time_point token_read_at_{};
};

}  // namespace cmop::operate
