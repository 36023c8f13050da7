package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// TestSharedPersistentVolume is Mesos's shared volume story over real
// processes (docs/shared-resources.md): a framework with SHARED_RESOURCES
// reserves disk and creates a shared volume on it; while its task uses the
// volume, the volume is offered again, to a second framework, whose task
// runs on it at the same time. Each task waits for the file the other
// writes into the volume, so both finish only if both saw the same
// directory at once. Once both ended, DESTROY removes the volume.
//
// As TestReservationAndPersistentVolume it runs with the volume as a
// symbolic link in each sandbox, and bound in each container's own mount
// namespace (filesystem/linux).
func TestSharedPersistentVolume(t *testing.T) {
	t.Run("link", func(t *testing.T) { testSharedPersistentVolume(t, false) })
	t.Run("bind", func(t *testing.T) {
		if err := containerizer.NamespacesAvailable(); err != nil {
			t.Skipf("skipping: filesystem/linux needs mount namespaces: %v", err)
		}
		testSharedPersistentVolume(t, true)
	})
}

func testSharedPersistentVolume(t *testing.T, bind bool) {
	opts := rigOptions{resources: "cpus:2;mem:1024;disk:512"}
	if bind {
		opts.agentFlags = []string{"--isolation=posix/cpu,posix/mem,filesystem/linux"}
	}
	r := startRig(t, opts)
	shared := []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_SHARED_RESOURCES}
	f1 := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, role: "eng", capabilities: shared})
	ctx := ctxT(t)

	o := f1.nextOffer()
	vol := reservedDisk("eng", 64, "shared1", "data")
	vol.Shared = &mesos.Resource_SharedInfo{}
	reserve := &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Id: &mesos.OperationID{Value: ptr("reserve-1")},
		Reserve: &mesos.Offer_Operation_Reserve{Resources: []*mesos.Resource{reservedDisk("eng", 64, "", "")}}}
	create := &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Id: &mesos.OperationID{Value: ptr("create-1")},
		Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{vol}}}
	if err := f1.client.Accept(ctx, ids(o), []*mesos.Offer_Operation{reserve, create}, &mesos.Filters{RefuseSeconds: ptr(0.0)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"reserve-1", "create-1"} {
		if st := operationStatus(t, f1, id); st.GetState() != mesos.OperationState_OPERATION_FINISHED {
			t.Fatalf("operation %s: %v", id, st)
		}
	}
	volDir := filepath.Join(r.workDir, "volumes", "roles", "eng", "shared1")

	// Each task publishes its file with a rename, so the other never reads
	// it half written, and waits up to 2 minutes for the other's.
	const wait = `i=0; while [ ! -f data/%s ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; `
	writer := "echo from-writer > data/w.tmp && mv data/w.tmp data/w && " +
		fmt.Sprintf(wait, "r") + `test "$(cat data/r)" = from-reader`
	reader := fmt.Sprintf(wait, "w") + `test "$(cat data/w)" = from-writer && echo from-reader > data/r.tmp && mv data/r.tmp data/r`

	launch := func(fw *framework, o *mesos.Offer, v *mesos.Resource, taskID, cmd string) {
		t.Helper()
		if v.Shared == nil {
			t.Fatalf("the volume was offered without 'shared': %v", v)
		}
		task := commandTask(taskID, o, "cpus:0.1;mem:32", cmd)
		task.Resources = append(task.Resources, v)
		if err := fw.client.Launch(ctx, ids(o), []*mesos.TaskInfo{task}, &mesos.Filters{RefuseSeconds: ptr(0.0)}); err != nil {
			t.Fatal(err)
		}
	}
	waitState := func(fw *framework, taskID string, done func(mesos.TaskState) bool) *mesos.TaskStatus {
		t.Helper()
		for {
			s := fw.nextUpdate()
			if s.GetTaskId().GetValue() != taskID {
				t.Fatalf("update for unexpected task %s (%s)", s.GetTaskId().GetValue(), s.GetState())
			}
			if done(s.GetState()) {
				return s
			}
		}
	}
	o1, v1 := volumeOffer(t, f1, "shared1")
	launch(f1, o1, v1, "writer", writer)
	if s := waitState(f1, "writer", func(s mesos.TaskState) bool { return s == mesos.TaskState_TASK_RUNNING || s.IsTerminal() }); s.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("writer: %v %q", s.GetState(), s.GetMessage())
	}

	// The writer uses the volume: it is offered to a second framework.
	// f1 declines what it is offered meanwhile (it holds the rest of the
	// agent until then); f2, with the lower share, is offered it next.
	f2 := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, role: "eng", capabilities: shared})
	o2, v2 := sharedOfferTo(t, f2, f1, "shared1")
	launch(f2, o2, v2, "reader", reader)
	for _, c := range []struct {
		fw *framework
		id string
	}{{f2, "reader"}, {f1, "writer"}} {
		if s := waitState(c.fw, c.id, mesos.TaskState.IsTerminal); s.GetState() != mesos.TaskState_TASK_FINISHED {
			t.Fatalf("task %s: %v %q: the tasks did not see each other's files", c.id, s.GetState(), s.GetMessage())
		}
	}
	for name, want := range map[string]string{"w": "from-writer\n", "r": "from-reader\n"} {
		if b, err := os.ReadFile(filepath.Join(volDir, name)); err != nil || string(b) != want {
			t.Errorf("the volume's %s holds %q (%v), want %q", name, b, err, want)
		}
	}

	// Nothing uses it now: DESTROY removes it.
	o, v := volumeOffer(t, f1, "shared1")
	destroy := &mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(), Id: &mesos.OperationID{Value: ptr("destroy-1")},
		Destroy: &mesos.Offer_Operation_Destroy{Volumes: []*mesos.Resource{v}}}
	if err := f1.client.Accept(ctx, ids(o), []*mesos.Offer_Operation{destroy}, nil); err != nil {
		t.Fatal(err)
	}
	if st := operationStatus(t, f1, "destroy-1"); st.GetState() != mesos.OperationState_OPERATION_FINISHED {
		t.Fatalf("DESTROY of the unused shared volume: %v", st)
	}
	waitFor(t, "the volume's directory to go", func() bool {
		_, err := os.Stat(volDir)
		return os.IsNotExist(err)
	})
}

// sharedOfferTo waits for an offer to fw holding the volume id, declining
// (without a filter) every offer to fw and to other meanwhile.
func sharedOfferTo(t *testing.T, fw, other *framework, id string) (*mesos.Offer, *mesos.Resource) {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case o := <-fw.offers:
			for _, r := range o.GetResources() {
				if r.GetDisk().GetPersistence().GetId() == id {
					return o, r
				}
			}
			if err := fw.client.Decline(ctxT(t), ids(o), 0); err != nil {
				t.Fatal(err)
			}
		case o := <-other.offers:
			if err := other.client.Decline(ctxT(t), ids(o), 0); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("timed out waiting for an offer of volume %s", id)
		}
	}
}
