"""The controller: restarts opted-in workloads when the credentials their pods use
change, as one leader among replicas (``nebula-credential controller``).

Rotation when due is not part of it yet; the ``rotate --due`` CronJob still does that.
"""
