"""The controller (``nebula-credential controller``): restarts opted-in workloads when
the credentials their pods use change, and rotates oauth2 credentials when they come due,
as the one leader among its replicas."""
