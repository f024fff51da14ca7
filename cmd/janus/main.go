// Command janus is the Janus proxy server: one binary with a forward face
// (HTTP, CONNECT, SOCKS) and, later, a reverse face, driven by one YAML file.
//
//	janus [run] [-c janus.yaml]   run (the embedded default config without -c)
//	janus validate -c janus.yaml  check a config: file:line: key: reason per problem
//	janus reload [-c janus.yaml]  reload a running Janus through its admin API
//	janus config default          print the default config, commented
//	janus hash-password           read a password on stdin, print a bcrypt hash
//	janus version                 print the version
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  janus [run] [-c FILE]        run Janus (the embedded default config without -c)
  janus validate -c FILE       check a config file
  janus reload [-c FILE] [-admin URL] [-token T]
                               reload a running Janus through its admin API
  janus config default         print the default config
  janus hash-password [-cost N] read a password on stdin, print a bcrypt hash
  janus version                print the version
`

// run dispatches a subcommand and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return cmdRun(args, stderr)
	case "validate":
		return cmdValidate(args, stdout, stderr)
	case "reload":
		return cmdReload(args, stdout, stderr)
	case "config":
		return cmdConfig(args, stdout, stderr)
	case "hash-password":
		return cmdHashPassword(args, stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "janus: unknown command %q\n%s", cmd, usage)
	return 2
}
