"""The fault controller: crashes, failovers, recoveries, replica disconnects and partitions, as
Redis with Sentinel behaves.

Built only when ``[faults]`` schedules something; the nodes then hold a reference to its
:class:`~sim.model.faults.cluster.Cluster` and ask it who can reach whom. Every fault is an
event at a configured time; after each one the cluster brings every replication link to the
state it implies (cut when its master is dead, unreachable, or the replica is disconnected;
reconnected with a partial or full resync when that ends). The controller acts on nodes only
through their methods (``die``, ``depose``, ``persist``, ``follow``, ``relink``, ``retire``,
...), so what a fault does to a node is read in the node.

One module a job, around the cluster that holds the fault state:

* :mod:`~sim.model.faults.cluster`: the state (who is in office, the sides of a partition,
  disconnected and draining replicas, deposed and restarted masters), the schedule, the
  links' reconciliation, lost writes, the end of the run;
* :mod:`~sim.model.faults.detection`: a crash, and the outage a failed master opens (Sentinel's
  timeline from :mod:`sim.model.sentinel`, or one sampled ``faults.failover_timeout``);
* :mod:`~sim.model.faults.failover`: the promotion, the replicas reconfigured, the clients
  switching;
* :mod:`~sim.model.faults.partitions`: partitions, their healing (split brain resolved), and
  replica disconnects;
* :mod:`~sim.model.faults.restarts`: a crashed host coming back (as a replica, or under
  Sentinel as a master until it is demoted);
* :mod:`~sim.model.faults.persistence`: what a restart keeps (``server.persistence``);
* :mod:`~sim.model.faults.redis_cluster`: a variant of the controller for one shard of a Redis
  Cluster (``cluster.shards`` > 1), its failover and partition jobs swapped for the cluster's
  (FAIL by node timeout, the replicas' election, MOVED).

Nodes keep their host identity (``node_id``, names "master", "replica0", ... as at the start
of the run) across role changes: a promoted replica's host becomes a new
:class:`~sim.model.master.Master`, a crashed or deposed master's host a new
:class:`~sim.model.replica.Replica`, both made by the run's builder (:mod:`sim.model.build`),
which the cluster is handed.
"""
