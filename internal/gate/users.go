package gate

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// User is one entry of the user database.
type User struct {
	Name   string
	Hash   []byte // bcrypt
	Groups []string
}

// Users is an immutable user database with a cache of recent successful
// logins. bcrypt is slow on purpose (tens of milliseconds); an HTTP proxy
// client sends its credentials with every request, so, like Squid's
// credentialsttl, a verified password is remembered for a while as a salted
// SHA-256, never in clear.
type Users struct {
	byName map[string]*User
	ttl    time.Duration
	salt   [16]byte

	mu    sync.Mutex
	cache map[[32]byte]time.Time // key → expiry
}

// maxCached bounds the login cache; past it the cache is emptied.
const maxCached = 16384

// ErrBadCredentials is returned for an unknown user or a wrong password;
// the two are not told apart.
var ErrBadCredentials = errors.New("bad user name or password")

// NewUsers builds a database. ttl is how long a verified password is
// remembered (0: never). Duplicate names are an error.
func NewUsers(users []User, ttl time.Duration, salt [16]byte) (*Users, error) {
	u := &Users{byName: make(map[string]*User, len(users)), ttl: ttl, salt: salt, cache: map[[32]byte]time.Time{}}
	for i := range users {
		usr := users[i]
		if _, dup := u.byName[usr.Name]; dup {
			return nil, fmt.Errorf("user %q defined twice", usr.Name)
		}
		if _, err := bcrypt.Cost(usr.Hash); err != nil {
			return nil, fmt.Errorf("user %q: not a bcrypt hash: %w", usr.Name, err)
		}
		u.byName[usr.Name] = &usr
	}
	return u, nil
}

// Lookup returns the named user.
func (u *Users) Lookup(name string) (*User, bool) {
	usr, ok := u.byName[name]
	return usr, ok
}

// Len returns the number of users.
func (u *Users) Len() int { return len(u.byName) }

// dummyHash keeps the time of a failed login for an unknown user close to
// that of a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("janus-dummy"), bcrypt.MinCost)

// Authenticate checks name and password.
func (u *Users) Authenticate(name, password string) (*Identity, error) {
	usr, ok := u.byName[name]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, fmt.Errorf("user %q: %w", name, ErrBadCredentials)
	}
	key := u.key(name, password)
	now := time.Now()
	if u.ttl > 0 {
		u.mu.Lock()
		exp, hit := u.cache[key]
		u.mu.Unlock()
		if hit && now.Before(exp) {
			return &Identity{Name: usr.Name, Groups: usr.Groups}, nil
		}
	}
	if err := bcrypt.CompareHashAndPassword(usr.Hash, []byte(password)); err != nil {
		return nil, fmt.Errorf("user %q: %w", name, ErrBadCredentials)
	}
	if u.ttl > 0 {
		u.mu.Lock()
		if len(u.cache) >= maxCached {
			clear(u.cache)
		}
		u.cache[key] = now.Add(u.ttl)
		u.mu.Unlock()
	}
	return &Identity{Name: usr.Name, Groups: usr.Groups}, nil
}

func (u *Users) key(name, password string) [32]byte {
	h := sha256.New()
	h.Write(u.salt[:])
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// HtpasswdError is a problem at one line of a users file.
type HtpasswdError struct {
	Line int
	Msg  string
}

func (e *HtpasswdError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseHtpasswd reads an htpasswd-style file: "name:bcrypt-hash" per line,
// optionally followed by ":group1,group2". Blank lines and lines starting
// with # are skipped. Only bcrypt hashes ($2a$, $2b$, $2y$) are accepted:
// the MD5 and crypt variants are too weak to keep.
func ParseHtpasswd(r io.Reader) ([]User, error) {
	var users []User
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, rest, ok := strings.Cut(text, ":")
		if !ok || name == "" {
			return nil, &HtpasswdError{line, "want name:bcrypt-hash"}
		}
		hash, groups, _ := strings.Cut(rest, ":")
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, &HtpasswdError{line, fmt.Sprintf("user %q: not a bcrypt hash (make one with `janus hash-password`)", name)}
		}
		u := User{Name: name, Hash: []byte(hash)}
		for _, g := range strings.Split(groups, ",") {
			if g = strings.TrimSpace(g); g != "" {
				u.Groups = append(u.Groups, g)
			}
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return users, nil
}
