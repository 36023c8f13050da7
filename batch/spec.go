package batch

import "sort"

// The driver and its executors talk JSON over HTTP. These are the messages:
// a TaskSpec POSTed to an executor's /task, and the TaskResult it answers.

// TaskSpec is one task: read a source partition, apply the ops in order,
// write to the sink.
type TaskSpec struct {
	// ID names the attempt, "s<stage>.p<partition>.a<attempt>".
	ID        string `json:"id"`
	Stage     int    `json:"stage"`
	Partition int    `json:"partition"`
	Source    Source `json:"source"`
	Ops       []Op   `json:"ops,omitempty"`
	Sink      Sink   `json:"sink"`
	// FetchTimeoutMS bounds, in milliseconds, how long a shuffle fetch
	// from another executor may wait for its answer or for its next bytes
	// (Config.ExecutorTimeout); 0 does not bound it.
	FetchTimeoutMS int64 `json:"fetch_timeout_ms,omitempty"`
}

// Source kinds.
const (
	sourceText    = "text"
	sourceShuffle = "shuffle"
)

// Shuffle read modes: what the reduce side does with the records of one
// partition.
const (
	modeReduce = "reduce" // combine the values of each key with Reduce
	modeSort   = "sort"   // order the records by key
	modeJoin   = "join"   // inner join of two shuffles by key
)

// Source is where a task's records come from: a split of a text file, or
// the map outputs of one or two shuffles for this task's partition.
type Source struct {
	Kind string `json:"kind"`
	// Text: the split [Offset, Offset+Length) of Path, by lines.
	Path   string `json:"path,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Length int64  `json:"length,omitempty"`
	// Shuffle: one read per parent (two for a join).
	Shuffles []ShuffleRead `json:"shuffles,omitempty"`
	Mode     string        `json:"mode,omitempty"`
	Reduce   string        `json:"reduce,omitempty"`
	Arg      string        `json:"arg,omitempty"`
}

// ShuffleRead lists where the map outputs of one shuffle are, indexed by
// map id.
type ShuffleRead struct {
	Shuffle int      `json:"shuffle"`
	Maps    []MapLoc `json:"maps"`
}

// MapLoc is the executor holding one map output, and where to read it:
// the executor itself, or (Service) its agent's shuffle service.
type MapLoc struct {
	Executor string `json:"executor"`
	Addr     string `json:"addr"`
	Service  bool   `json:"service,omitempty"`
}

// Op kinds.
const (
	opFlatMap = "flatMap"
	opCache   = "cache"
)

// Op is one narrow step: a registered flatMap function, or a cache point
// (the records so far are kept in the executor's memory as partition
// Partition of dataset Dataset).
type Op struct {
	Kind    string `json:"kind"`
	Fn      string `json:"fn,omitempty"`
	Arg     string `json:"arg,omitempty"`
	Dataset int    `json:"dataset,omitempty"`
}

// Sink kinds.
const (
	sinkShuffle = "shuffle"
	sinkText    = "text"
	sinkCollect = "collect"
	sinkSample  = "sample"
)

// Text output formats.
const (
	// FormatKV writes "key<TAB>value" lines.
	FormatKV = "kv"
	// FormatKeys writes the keys, one a line.
	FormatKeys = "keys"
	// FormatValues writes the values, one a line.
	FormatValues = "values"
)

// Sink is where a task's records go: the buckets of a shuffle (map output
// Map of shuffle Shuffle), a part file in Dir, back to the driver, or a
// sample of Size records back to the driver.
type Sink struct {
	Kind        string      `json:"kind"`
	Shuffle     int         `json:"shuffle,omitempty"`
	Map         int         `json:"map,omitempty"`
	Partitioner Partitioner `json:"partitioner,omitzero"`
	// Combine, when set, reduces values by key on the map side.
	Combine    string `json:"combine,omitempty"`
	CombineArg string `json:"combine_arg,omitempty"`
	Dir        string `json:"dir,omitempty"`
	Format     string `json:"format,omitempty"`
	// Size is how many records a sample sink keeps.
	Size int `json:"size,omitempty"`
}

// Partitioner kinds.
const (
	partHash  = "hash"
	partRange = "range"
)

// Partitioner assigns a key to one of N partitions: by a hash of the key,
// or by ranges whose upper bounds (N-1 of them, ascending) are Bounds.
type Partitioner struct {
	Kind   string   `json:"kind"`
	N      int      `json:"n"`
	Bounds []string `json:"bounds,omitempty"`
}

// partition returns the partition of key.
func (p Partitioner) partition(key string) int {
	if p.N <= 1 {
		return 0
	}
	if p.Kind == partRange {
		// Partition i holds the keys in (Bounds[i-1], Bounds[i]].
		return sort.SearchStrings(p.Bounds, key)
	}
	// FNV-1a, over the string without copying it.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(p.N))
}

// TaskResult is an executor's answer to a task.
type TaskResult struct {
	// Records are the task's output, for a collect sink.
	Records []Record `json:"records,omitempty"`
	// Cached lists the datasets whose partition this task left in the
	// executor's memory.
	Cached []int `json:"cached,omitempty"`
	// FetchFailed says a map output this task needed could not be read:
	// the driver recomputes it rather than retrying the task.
	FetchFailed *FetchFailure `json:"fetch_failed,omitempty"`
	// Error is the task's own failure; the driver retries it elsewhere.
	Error string `json:"error,omitempty"`
	// RecordsIn and RecordsOut count what the task read and wrote.
	RecordsIn  int64 `json:"records_in"`
	RecordsOut int64 `json:"records_out"`
}

// FetchFailure names a map output a reduce task could not read.
type FetchFailure struct {
	Shuffle  int    `json:"shuffle"`
	Map      int    `json:"map"`
	Executor string `json:"executor"`
	// Gone is set when the executor holding it did not answer at all (so
	// every output it held is lost), not just this one output.
	Gone   bool   `json:"gone,omitempty"`
	Reason string `json:"reason"`
}
