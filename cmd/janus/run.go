package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/server"
)

// cmdRun serves a config until a signal stops it. SIGHUP reloads the
// config file; SIGUSR2 starts a new janus binary that takes the listening
// sockets over (cloudflare/tableflip: the file descriptors are inherited,
// so no connection is refused), after which this process drains and exits.
func cmdRun(args []string, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	path := fs.String("c", "", "config file (default: the embedded default config)")
	pidFile := fs.String("pid-file", "", "write the serving process's PID here (rewritten by the new process after an upgrade)")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log, level := server.NewLogger(cfg.Log, stderr)
	// Listen for signals before serving: a SIGTERM that arrives right after
	// start must drain, not kill.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	upg, err := tableflip.New(tableflip.Options{
		PIDFile: *pidFile,
		// No TCP keep-alive probes on clients, as for sockets bound anew.
		ListenConfig:   &net.ListenConfig{KeepAlive: -1},
		UpgradeTimeout: 30 * time.Second,
	})
	if err != nil {
		log.Error("cannot prepare for binary upgrades", "err", err)
		return 1
	}
	defer upg.Stop()
	srv, err := server.New(cfg, server.Options{Logger: log, LogLevel: level, Version: versionString(), Sockets: upg.Fds})
	if err != nil {
		log.Error("cannot build server", "err", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := upg.Ready(); err != nil {
		log.Error("cannot tell the old process it may stop", "err", err)
		return 1
	}
	log.Info("janus started", "version", versionString(), "config", cfg.File, "pid", os.Getpid(), "upgraded", upg.HasParent())

	for {
		select {
		case <-upg.Exit():
			// A new process is serving: finish what is in flight, then go.
			log.Info("a new process took over; draining")
			return drain(srv, log, sigs, "upgrade")
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				if err := srv.ReopenLogs(); err != nil {
					log.Error("reopen logs", "err", err)
				} else {
					log.Info("logs reopened")
				}
			case syscall.SIGHUP:
				reload(srv, *path, log)
			case syscall.SIGUSR2:
				// Upgrade returns once the new process is ready (or has
				// failed, when this one keeps serving); Exit then fires.
				log.Info("SIGUSR2: starting a new process to take over")
				if err := upg.Upgrade(); err != nil {
					log.Error("upgrade failed; this process keeps serving", "err", err)
				}
			default:
				return drain(srv, log, sigs, sig.String())
			}
		}
	}
}

// drain stops the server, letting what is in flight finish within the
// configured drain time; a second signal cuts it short.
func drain(srv *server.Server, log *slog.Logger, sigs <-chan os.Signal, why string) int {
	d := srv.Config().Shutdown.Drain.Or(config.DefaultDrain)
	log.Info("shutting down", "reason", why, "drain", d.String())
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := srv.Shutdown(ctx)
	cancel()
	if err != nil {
		log.Warn("stopped with connections cut", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
