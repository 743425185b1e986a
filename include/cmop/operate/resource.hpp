#pragma once
// The names the Chartmuseum resource and the objects made for it carry.

namespace cmop::operate {

inline constexpr const char* kFinalizer = "cm.bitnami.com/cleanup";
// Any new value on a Chartmuseum asks for a sync now; status.lastHandledReconcileAt echoes it.
inline constexpr const char* kRequestedAtAnnotation = "cm.bitnami.com/requestedAt";
inline constexpr const char* kApiVersion = "cm.bitnami.com/v1alpha1";
inline constexpr const char* kKind = "Chartmuseum";
// The labels of the CronJobs the operator makes (the CronJob informer selects on the first).
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kRepoLabel = "cm.bitnami.com/repo";

}  // namespace cmop::operate
