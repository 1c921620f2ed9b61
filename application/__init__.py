"""The application layer: the `Complaints` service that runs the domain's commands on
the event store, and the store's wiring (opening it, its extra tables). It puts the
domain (domain/, which imports no adapter) together with the adapters that keep
personal data sealed (privacy/)."""
