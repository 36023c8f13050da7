package registry

import (
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Hurrying the election when the leader's process is gone.
//
// Raft's followers find a dead leader only by its silence: a follower that
// has heard nothing for a heartbeat timeout holds an election, and its
// timer, which fires at random between one and two timeouts, makes that
// up to three timeouts after the leader's last word; the other follower,
// which still names the old leader until its own timer fires, refuses to
// vote meanwhile. When the leader's process dies, though, its operating
// system closes its connections at once, and its port refuses new ones: a
// follower that sees a connection from the leader end, and then cannot
// connect to the leader or gets no answer before its connection is reset
// (processGone), knows it is gone. It then starts the election as
// soon as Raft allows (one heartbeat timeout after the leader's last
// word), by lowering Raft's heartbeat timeout a little, which Raft's
// follower loop takes as its cue to look again at once, and putting it
// back afterwards. The followers hurry one after the other, in the order
// of their addresses, hurryStagger apart, so that they do not split their
// votes: the first to stand finds the other still naming the old leader
// and waits; the second to stand finds the first a candidate without a
// leader, which votes for it. Meanwhile neither names the dead leader
// (Leader), so whoever looks for the leader through them (agents,
// schedulers) waits for the new one instead of being sent to a closed port
// and trying again. A leader that died with its machine, or is
// cut off by the network, closes nothing: its followers find it by its
// silence, as before.
//
// As the order is fixed, the leader knows which follower will win such an
// election (Successor), and the master names it to its agents, which go
// there first when their stream ends rather than to a master that would
// only redirect them.

const (
	// hurryProbe bounds the connection attempt that tells a dead leader
	// from a connection that merely ended.
	hurryProbe = 200 * time.Millisecond
	// hurryStagger spaces the followers' elections, and a follower's
	// tries.
	hurryStagger = 40 * time.Millisecond
	// hurryTries bounds the times a follower hurries the election for one
	// gone leader: the first may come too early, when a last word of the
	// leader's arrived late.
	hurryTries = 3
)

// processGone reports whether the process of the master at addr is gone:
// its port refuses connections (or takes none within hurryProbe, as
// before), or a connection it takes ends before any answer. The last is
// how a process killed an instant ago looks: its operating system closes
// its connections first (which is what made the follower look) and may
// still hold its listening socket, which takes the probe's connection
// into its queue and resets it once closed; a bare connection attempt
// then took the dead leader for alive. A master that answers anything
// (its HTTP server: the 400 of the Raft path asked without an upgrade),
// or nothing within hurryProbe (busy), is taken as alive.
func processGone(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, hurryProbe)
	if err != nil {
		return true // refused, or no answer to the connection at all
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(hurryProbe)); err != nil {
		return false
	}
	if _, err := io.WriteString(conn, "GET "+RaftPath+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		return !isTimeout(err)
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		return !isTimeout(err)
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// goneLeader is a leader whose process is gone, and when this follower
// last heard from it.
type goneLeader struct {
	addr        string
	lastContact time.Time
}

// connEnded runs when a connection a peer opened to this master ends: if
// the peer was the leader and its process is gone, the election is
// hurried. It runs on its own goroutine.
func (s *Replicated) connEnded() {
	if s.raft.State() != raft.Follower {
		s.log.Debug("a peer's connection ended; not a follower", "state", s.raft.State().String())
		return
	}
	leader, _ := s.raft.LeaderWithID()
	if leader == "" || string(leader) == s.self {
		s.log.Debug("a peer's connection ended; no leader known", "leader", string(leader))
		return
	}
	if !s.hurrying.CompareAndSwap(false, true) {
		return // a hurry for this leader is on its way
	}
	defer s.hurrying.Store(false)
	if !processGone(string(leader)) {
		s.log.Debug("a peer's connection ended; the leader still answers", "leader", string(leader))
		return // the leader's process is alive: the connection merely ended
	}
	if now, _ := s.raft.LeaderWithID(); now != leader {
		return // another leader already
	}
	// Nobody is sent to it any more (Leader): they wait for the next one.
	s.gone.Store(&goneLeader{addr: string(leader), lastContact: s.raft.LastContact()})
	// This follower's place among the masters other than the old leader.
	others, _ := s.hurryOrder(string(leader))
	rank := max(0, slices.Index(others, s.self))
	hb := s.raft.ReloadableConfig().HeartbeatTimeout
	for try := range hurryTries {
		// A word from the leader after this follower looked (sent before
		// it died, read late) puts the election off again: Raft stands
		// only once a heartbeat timeout has passed since the last one.
		last := s.raft.LastContact()
		at := last.Add(hb + time.Duration(rank)*hurryStagger + 5*time.Millisecond)
		if try > 0 {
			at = later(at, time.Now().Add(hurryStagger))
		}
		select {
		case <-time.After(time.Until(at)):
		case <-s.stopLead:
			return
		}
		if now, _ := s.raft.LeaderWithID(); now != leader || s.raft.State() != raft.Follower {
			if try == 0 {
				s.log.Debug("the leader's process is gone; the election started before the hurry", "leader", string(leader), "state", s.raft.State().String())
			}
			return
		}
		s.log.Info("the leader's process is gone: holding the election now", "leader", string(leader), "rank", rank, "others", others, "try", try+1)
		if try == 0 {
			s.hurries.Add(1)
		}
		// A shorter timeout (never below the leader lease, which Raft
		// requires) makes the follower look at once; the election it
		// starts then runs on Raft's own timeouts, the configured one
		// restored.
		rc := s.raft.ReloadableConfig()
		rc.HeartbeatTimeout = hb - time.Millisecond
		if err := s.raft.ReloadConfig(rc); err != nil {
			s.log.Warn("cannot hurry the election", "error", err)
			return
		}
		rc.HeartbeatTimeout = hb
		if err := s.raft.ReloadConfig(rc); err != nil {
			s.log.Warn("cannot restore the heartbeat timeout", "error", err)
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hurryOrder is the order in which the voters other than leader hurry the
// election when leader's process is gone (their addresses, sorted), and
// how many votes an election needs.
func (s *Replicated) hurryOrder(leader string) (others []string, quorum int) {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return nil, 0
	}
	voters := 0
	for _, sv := range f.Configuration().Servers {
		if sv.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(sv.Address) != leader {
			others = append(others, string(sv.Address))
		}
	}
	slices.Sort(others)
	return others, voters/2 + 1
}

// Successor is, on the leader, the master the hurried election is expected
// to elect should this master's process die: the first in the hurry order
// that finds enough votes. Each follower that stands before it finds the
// others still naming the dead leader and steps back without a vote; one
// that has stood names no leader, and grants the next one its (pre-)vote.
// So the follower at place quorum-1 of the order is the first with a
// quorum: itself and the quorum-1 before it. That holds when every
// follower is up and hears the leader's last word at about the same time;
// otherwise another may win, and who went to the successor is sent on
// (a redirect). It is "" on a follower, and when no election could be won
// without this master (fewer than three voters).
func (s *Replicated) Successor() string {
	if s.raft.State() != raft.Leader {
		return ""
	}
	others, quorum := s.hurryOrder(s.self)
	if quorum < 1 || quorum-1 >= len(others) {
		return ""
	}
	return others[quorum-1]
}
