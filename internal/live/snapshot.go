package live

import "time"

// Snapshot is everything the live views show, at one moment. Field names
// are stable: the dashboard and the admin API read them.
type Snapshot struct {
	Time time.Time `json:"time"`
	// Faces holds "forward" and "reverse", always both.
	Faces map[string]FaceSnapshot `json:"faces"`
	// Top destinations of the forward face (the host of the target, port
	// dropped), heaviest first, by requests and by bytes; top users
	// (authenticated, both faces) by bytes. Over the current minute and
	// the nine before it.
	TopDestinations        []Top `json:"top_destinations"`
	TopDestinationsByBytes []Top `json:"top_destinations_by_bytes"`
	TopUsers               []Top `json:"top_users"`
	// Clients refused by a rate, concurrency or quota limit (issue 6),
	// both faces, most refused first; over the same ten minutes.
	LimitedClients []LimitedClient `json:"limited_clients"`
	// The last denials, errors and entries, newest first.
	RecentDenials []Record `json:"recent_denials"`
	RecentErrors  []Record `json:"recent_errors"`
	Tail          []Record `json:"tail"`
	// Subscribers is the number of live subscriptions; Dropped the events
	// they lost in all, since the start.
	Subscribers int    `json:"subscribers"`
	Dropped     uint64 `json:"dropped"`
}

// Snapshot returns the current state. It copies; the caller owns the result.
func (l *Live) Snapshot() Snapshot {
	now := l.o.Now()
	sec := now.Unix()
	s := Snapshot{Time: now, Faces: make(map[string]FaceSnapshot, numFaces)}
	for i := range l.faces {
		s.Faces[faceNames[i]] = l.faces[i].snapshot(sec)
	}
	minute := sec / 60
	l.topMu.Lock()
	s.TopDestinations = top(l.destByReqs, minute, l.o.TopN)
	s.TopDestinationsByBytes = top(l.destByBytes, minute, l.o.TopN)
	s.TopUsers = top(l.usersBytes, minute, l.o.TopN)
	s.LimitedClients = limitedOf(l.limited, minute, l.o.TopN)
	l.topMu.Unlock()
	l.recentMu.Lock()
	s.RecentDenials = l.denials.list()
	s.RecentErrors = l.errors.list()
	s.Tail = l.tail.list()
	l.recentMu.Unlock()
	s.Subscribers = len(*l.subs.Load())
	s.Dropped = l.drops.Load()
	return s
}
