#pragma once
// The generated charts the benchmarks package: realistic sizes (about 20 KiB of
// templates, values and docs each), optionally depending on `common` from a chart
// repository.
#include <string>

#include "support/git_fixture.hpp"

namespace cmop::bench {

// About `bytes` of template-like text, different per seed.
inline std::string filler(std::size_t bytes, int seed) {
  std::string s;
  int line = 0;
  while (s.size() < bytes)
    s += "  # " + std::to_string(seed) + " line " + std::to_string(line++) + " of generated template text\n";
  return s;
}

// charts/chart<i>: Chart.yaml, values, .helmignore, README, seven templates.
inline void write_bench_chart(test::GitWorkRepo& repo, int i, bool with_dep, const std::string& dep_repo_url) {
  std::string name = "chart" + std::to_string(i);
  std::string dir = "charts/" + name;
  std::string chart_yaml = "apiVersion: v2\nname: " + name + "\nversion: 1.0." + std::to_string(i) +
                           "\nappVersion: \"2." + std::to_string(i) + "\"\ndescription: benchmark chart\n";
  if (with_dep)
    chart_yaml += "dependencies:\n- name: common\n  version: ^1.0.0\n  repository: " + dep_repo_url + "\n";
  repo.write(dir + "/Chart.yaml", chart_yaml);
  repo.write(dir + "/values.yaml", "replicaCount: 1\nimage:\n  repository: nginx\n" + filler(3000, i));
  repo.write(dir + "/.helmignore", ".git/\n*.swp\n*.bak\n");
  repo.write(dir + "/README.md", "# " + name + "\n" + filler(2000, i));
  for (const char* t : {"deployment", "service", "ingress", "configmap", "hpa", "serviceaccount"})
    repo.write(dir + "/templates/" + t + ".yaml",
               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" + filler(2500, i));
  repo.write(dir + "/templates/_helpers.tpl", "{{- define \"x.name\" -}}x{{- end -}}\n" + filler(1500, i));
  repo.write(dir + "/templates/NOTES.txt", "Installed " + name + "\n");
}

}  // namespace cmop::bench
