package cluster

import (
	"context"
	"strings"
)

// Publish sends msg on channel (under the client's prefix) to every
// instance, this one included; Subscribe's handler learns who sent it. A
// purge broadcast is a publish of the purged key or prefix.
func (c *Client) Publish(ctx context.Context, channel, msg string) error {
	if err := c.rdb.Publish(ctx, c.o.Prefix+"ch:"+channel, c.o.Instance+"\x00"+msg).Err(); err != nil {
		c.redisErrors.Add(1)
		return errorf("publish on %s: %w", channel, err)
	}
	return nil
}

// Subscribe calls handle for every message published on channel until
// ctx ends, with the sending instance's name (compare with Instance() to
// skip one's own). It reconnects by itself after Redis comes back;
// messages published while it was away are lost, so a purge subscriber
// should treat a reconnection as "anything may be stale". It returns
// when ctx ends; run it on its own goroutine.
func (c *Client) Subscribe(ctx context.Context, channel string, handle func(from, msg string)) {
	ps := c.rdb.Subscribe(ctx, c.o.Prefix+"ch:"+channel)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			from, msg, found := strings.Cut(m.Payload, "\x00")
			if !found {
				from, msg = "", m.Payload
			}
			handle(from, msg)
		}
	}
}
