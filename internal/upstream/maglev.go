package upstream

// maglev is consistent hashing with a Maglev lookup table (Eisenbud et al.,
// "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016,
// §3.4): each host fills the table's slots in the order of its own
// permutation of them, in turns proportional to its weight, until the table
// is full. A key goes to the host of slot key mod M. Adding or removing one
// of N hosts changes only about 1/N of the slots, and the table spreads keys
// evenly (a ring with virtual nodes needs many points per host to match).
//
// The table is built from the members and their configured weights; it
// does not follow health. A key whose host cannot be picked is rehashed to
// another slot, a few times, so the keys of a host that is down spread over
// the others in proportion to weight while every other key stays put.
type maglev struct {
	rr    roundRobin // requests without a key
	table []int32    // slot → host index
}

// rehashes is how many other slots a key tries before falling back to
// round robin (reached only when most hosts are down).
const rehashes = 8

func newMaglev(hosts []*Host, weights []int32) *maglev {
	b := &maglev{rr: roundRobin{current: make([]int64, len(hosts))}}
	if len(hosts) > 0 {
		b.table = maglevTable(hosts, weights)
	}
	return b
}

func (b *maglev) pick(c candidates) *Host {
	if !c.hasKey || len(b.table) == 0 {
		return b.rr.pick(c)
	}
	key := c.key
	size := uint64(len(b.table))
	for range rehashes {
		if i := int(b.table[key%size]); c.weight(i) > 0 {
			return c.hosts[i]
		}
		key = mix64(key + 0x9e3779b97f4a7c15)
	}
	return b.rr.pick(c)
}

// maglevTable fills the lookup table. A host's permutation of the M slots
// (M prime) is offset + j·skip mod M, with offset and skip from its ID, so
// a host keeps its preferences whatever the other members are.
func maglevTable(hosts []*Host, weights []int32) []int32 {
	n := len(hosts)
	size := uint64(tableSize(n))
	offset := make([]uint64, n)
	skip := make([]uint64, n)
	next := make([]uint64, n)
	count := make([]int64, n)
	var maxW int64
	for i, h := range hosts {
		offset[i] = mix64(fnv1a(h.id, fnvOffset)) % size
		skip[i] = mix64(fnv1a(h.id, fnvOffset^0x5bd1e995))%(size-1) + 1
		maxW = max(maxW, int64(weights[i]))
	}
	table := make([]int32, size)
	for i := range table {
		table[i] = -1
	}
	filled := uint64(0)
	for turn := int64(1); ; turn++ {
		for i := range hosts {
			// Weighted Maglev: host i takes a slot this turn while it holds
			// fewer than turn·w/maxW, so slots follow weights.
			if count[i]*maxW >= turn*int64(weights[i]) {
				continue
			}
			s := (offset[i] + next[i]*skip[i]) % size
			for table[s] >= 0 {
				next[i]++
				s = (offset[i] + next[i]*skip[i]) % size
			}
			table[s] = int32(i)
			next[i]++
			count[i]++
			if filled++; filled == size {
				return table
			}
		}
	}
}

// tableSize is a prime M well above the number of hosts: the paper keeps
// M > 100·N so that hosts' shares differ by under 1%.
func tableSize(n int) int {
	for _, p := range []int{4099, 16411, 65537, 262147, 1048583} {
		if p >= 100*n {
			return p
		}
	}
	return nextPrime(100 * n)
}

func nextPrime(n int) int {
	for ; ; n++ {
		prime := n > 1
		for d := 2; d*d <= n && prime; d++ {
			prime = n%d != 0
		}
		if prime {
			return n
		}
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv1a is 64-bit FNV-1a: deterministic across processes, so several Janus
// instances hash a key to the same host.
func fnv1a[S ~string | ~[]byte](s S, h uint64) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix64 is splitmix64's finaliser: FNV's low bits are weak, and keys are
// taken mod M.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashKey extracts and hashes the Hash balancer's key from r; false when
// the request has none (the pick then goes round robin).
func (p *Pool) hashKey(r *Request) (uint64, bool) {
	if r == nil {
		return 0, false
	}
	var v []byte
	switch p.opts.Hash.Source {
	case HashClientIP:
		if !r.ClientIP.IsValid() {
			return 0, false
		}
		a := r.ClientIP.Unmap().As16()
		return mix64(fnv1a(a[:], fnvOffset)), true
	case HashHeader:
		if r.Header != nil {
			v = r.Header.Get(p.opts.Hash.Name)
		}
	case HashCookie:
		v = cookieValue(r.Header, p.opts.Hash.Name)
	case HashURI:
		v = r.URI
	}
	if len(v) == 0 {
		return 0, false
	}
	return mix64(fnv1a(v, fnvOffset)), true
}
