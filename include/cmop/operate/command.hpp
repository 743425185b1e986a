#pragma once
// `cmop operate`: the Kubernetes operator role.
#include <string>

#include "cmop/operate/controller.hpp"

namespace CLI {
class App;
}

namespace cmop::operate {

struct OperateOptions {
  ControllerOptions controller;
  std::string kubeconfig;
  std::string token_secret;  // "name/key"
  bool leader_elect = false;
  std::string lease_name = "cmop-operator";
  std::string lease_namespace;  // default: the pod's (or kubeconfig context's) namespace
  std::string listen = "0.0.0.0:8082";
  std::string log_format = "text";
  std::string log_level = "info";  // debug, info, warn or error: lines below it are dropped
};

// Runs until SIGTERM/SIGINT (exit 0) or until leadership is lost (exit 1, so the pod
// restarts as a fresh candidate). Throws Error for bad configuration.
int run(OperateOptions options);

void add_command(CLI::App& app);

}  // namespace cmop::operate
