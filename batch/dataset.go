package batch

import (
	"fmt"
	"sync/atomic"
)

// Dataset kinds.
const (
	dsText     = iota // files in a directory, read by splits
	dsNarrow          // a flatMap of a parent, partition by partition
	dsShuffled        // the shuffle of one or two parents by key
)

// DefaultSplitSize is the largest input split of TextFile: a file bigger
// than this is read by several tasks.
const DefaultSplitSize = 32 << 20

var nextDatasetID atomic.Int64

// A Dataset is a lazily computed, partitioned collection of records,
// defined by its lineage: where it comes from and what was done to it.
// Building one runs nothing; App.SaveAsText and App.Collect run the job that
// computes it. Functions are named (see RegisterFlatMap, RegisterReduce) so
// that executors can run them.
type Dataset struct {
	id        int
	kind      int
	name      string
	dir       string
	splitSize int64
	// locate, when set, names the places (agent ids or hostnames) where
	// a file of a text dataset is local.
	locate  func(path string) []string
	parent  *Dataset
	fn, arg string
	parents []*Dataset
	// Shuffled datasets: how keys are partitioned, what the reduce side
	// does, and the map-side combiner (a reduce).
	part             Partitioner
	mode             string
	reduce, rarg     string
	combine, combArg string
	cached           bool
	// shuffles are the ids of the shuffles this dataset reads, one per
	// parent, given when the App first plans it.
	shuffles []int
}

func newDataset(kind int, name string) *Dataset {
	return &Dataset{id: int(nextDatasetID.Add(1)), kind: kind, name: name}
}

// ID is the dataset's number, unique in the process.
func (d *Dataset) ID() int { return d.id }

// Name is a short description of how the dataset is made.
func (d *Dataset) Name() string { return d.name }

// TextFile is the lines of the files in dir (not those whose names start with
// "." or "_"), one record per line with the line as the value and an empty
// key. Each file is read in splits of at most DefaultSplitSize bytes.
func TextFile(dir string) *Dataset {
	d := newDataset(dsText, "textFile "+dir)
	d.dir = dir
	d.splitSize = DefaultSplitSize
	return d
}

// WithLocations says where each input file of a TextFile dataset is local:
// locate returns the agent ids or hostnames of the agents that read path
// fastest (a file on an agent's own disk, HDFS-like replicas). The tasks
// reading its splits prefer those agents, and wait for them up to
// Config.LocalityWait (delay scheduling). It replaces what the directory's
// _locations file says.
func (d *Dataset) WithLocations(locate func(path string) []string) *Dataset {
	if d.kind != dsText || locate == nil {
		panic("batch: WithLocations needs a TextFile dataset and a function")
	}
	d.locate = locate
	return d
}

// WithSplitSize sets the largest split of a TextFile dataset.
func (d *Dataset) WithSplitSize(n int64) *Dataset {
	if d.kind != dsText || n <= 0 {
		panic("batch: WithSplitSize needs a TextFile dataset and a positive size")
	}
	d.splitSize = n
	return d
}

// FlatMap applies the registered function name (with arg) to each record.
func (d *Dataset) FlatMap(name, arg string) *Dataset {
	n := newDataset(dsNarrow, "flatMap "+name)
	n.parent, n.fn, n.arg = d, name, arg
	return n
}

// Map applies a function registered with RegisterMap.
func (d *Dataset) Map(name, arg string) *Dataset { return d.FlatMap(name, arg) }

// Filter applies a predicate registered with RegisterFilter.
func (d *Dataset) Filter(name, arg string) *Dataset { return d.FlatMap(name, arg) }

// Cache keeps the dataset's partitions in the memory of the executors that
// compute them, for later stages and jobs of the same App. A lost cached
// partition is recomputed from its lineage.
func (d *Dataset) Cache() *Dataset {
	d.cached = true
	return d
}

// ReduceByKey combines the values of each key with the registered reduce
// function, on the map side first, then after a hash shuffle into
// partitions partitions. The output of each partition is ordered by key.
func (d *Dataset) ReduceByKey(name, arg string, partitions int) *Dataset {
	s := d.shuffled("reduceByKey "+name, partitions, partHash, modeReduce, d)
	s.reduce, s.rarg = name, arg
	s.combine, s.combArg = name, arg
	return s
}

// SortByKey orders the records by key (then value) across partitions
// partitions: partition i holds only keys below those of partition i+1.
// The ranges come from a sample of the keys, taken by a job of its own
// before the shuffle, as Spark does.
func (d *Dataset) SortByKey(partitions int) *Dataset {
	return d.shuffled("sortByKey", partitions, partRange, modeSort, d)
}

// Join is the inner join of d and other by key into partitions partitions:
// for each key, a record per pair of values, with the value
// "<d's value><TAB><other's value>".
func (d *Dataset) Join(other *Dataset, partitions int) *Dataset {
	return d.shuffled("join", partitions, partHash, modeJoin, d, other)
}

func (d *Dataset) shuffled(name string, partitions int, part, mode string, parents ...*Dataset) *Dataset {
	if partitions < 1 {
		panic(fmt.Sprintf("batch: %s needs at least one partition, not %d", name, partitions))
	}
	s := newDataset(dsShuffled, name)
	s.parents = parents
	s.part = Partitioner{Kind: part, N: partitions}
	s.mode = mode
	return s
}

// checkFuncs reports the first function d's lineage names that is not
// registered in this process.
func (d *Dataset) checkFuncs() error {
	switch d.kind {
	case dsNarrow:
		if !hasFunc("flatMap", d.fn) {
			return fmt.Errorf("flatMap %q: %w", d.fn, errUnknownFunc)
		}
		return d.parent.checkFuncs()
	case dsShuffled:
		if d.reduce != "" && !hasFunc("reduce", d.reduce) {
			return fmt.Errorf("reduce %q: %w", d.reduce, errUnknownFunc)
		}
		for _, p := range d.parents {
			if err := p.checkFuncs(); err != nil {
				return err
			}
		}
	}
	return nil
}

// pipeline walks from d up its narrow parents to the root of its stage (a
// text or shuffled dataset) and returns the root and the ops that turn the
// root's partition into d's.
func (d *Dataset) pipeline() (root *Dataset, ops []Op) {
	var chain []*Dataset
	for cur := d; ; cur = cur.parent {
		chain = append(chain, cur)
		if cur.kind != dsNarrow {
			root = cur
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		if c.kind == dsNarrow {
			ops = append(ops, Op{Kind: opFlatMap, Fn: c.fn, Arg: c.arg})
		}
		if c.cached {
			ops = append(ops, Op{Kind: opCache, Dataset: c.id})
		}
	}
	return root, ops
}
