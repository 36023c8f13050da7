// Package batch is Gomesos's bundled data-parallel batch framework: the
// pattern of Spark's coarse-grained Mesos backend, built only on the public
// scheduler and executor SDKs.
//
// It owns three things:
//   - the driver ([App]): a Mesos framework that takes coarse-grained
//     executors from offers (up to a number of cores, each executor of a fixed
//     size, spread over agents, filtered by attribute constraints), declines
//     what it does not want with a long refuse filter, SUPPRESSes when it has
//     what it needs and REVIVEs when work appears; it splits jobs into stages
//     at shuffle boundaries, sends their tasks to its executors over HTTP,
//     retries failed tasks elsewhere, resubmits a lost executor's tasks
//     (one that leaves its pings unanswered for ExecutorTimeout is lost too)
//     and recomputes lost shuffle outputs from lineage; it places tasks by
//     delay scheduling (package locality: input splits prefer the agents
//     their files are local to), can start a shuffle service per agent so
//     that released executors keep their map outputs, ships the executor
//     binary to remote agents through their fetcher, and a driver started
//     with the FrameworkID of one that died takes over its executors;
//   - the executor ([MainIfExecutor]): the gomesos binary (or any binary
//     that calls MainIfExecutor early) run as a custom Mesos executor with one
//     long-running "executor task"; it serves the driver's HTTP calls (run a
//     task, fetch a shuffle block, list cached partitions), keeps cached
//     partitions in memory for the life of the application and writes map
//     outputs to its sandbox;
//   - the job API ([Dataset]): text input splits, narrow transformations
//     (map, filter, flatMap) named in a registry so an executor can run them
//     (closures cannot cross processes), shuffles by key (hash- or
//     range-partitioned), reduces, joins and part-NNNNN output files; and
//     the built-in jobs wordcount, sort and kmeans.
//
// It must not reach into the master, agent or allocator: everything it knows
// of the cluster comes through the scheduler and executor APIs.
package batch
