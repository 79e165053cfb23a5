"""Example perpsim plug-ins: one of each kind (see ``examples/plugins/README.md``)."""
