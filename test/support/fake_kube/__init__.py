"""Modules of the fake kube-apiserver (test/support/fake_kube_apiserver.py), one per concern:
errors (Status objects), schema (the CRD's structural schema), kinds (per-kind rules and
defaults of the built-in resources), store (objects, namespaces, deletion and garbage
collection), watch (the event stream)."""
