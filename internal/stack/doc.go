// Package stack deploys compose files to a Haddock swarm with `docker stack
// deploy` semantics: the engine behind the haddock_stack resource.
//
// It reuses the docker CLI's own code rather than parsing compose files
// itself: cli/compose/loader loads, interpolates and validates a file
// against the compose schema, and cli/compose/convert turns it into swarm
// specs, so services, networks, configs and secrets get the CLI's names
// (<stack>_<name>), labels (com.docker.stack.namespace,
// com.docker.stack.image) and defaults. What the CLI does with a daemon
// (creating networks and objects, updating services) is done here against
// an Engine, the Docker API of a swarm manager over mutual TLS (EngineOf).
//
// # Life cycle
//
//	p, err := stack.LoadWithOptions("shop", yaml, stack.LoadOptions{Env: vars, Files: files})
//	res, err := stack.Deploy(ctx, engine, p, stack.DeployOptions{Prune: true})
//	err = stack.WaitConverged(ctx, engine, p, 10*time.Minute)
//	state, err := stack.Observe(ctx, engine, "shop")   // refresh
//	changes := stack.Diff(p, state)                       // plan: empty when in sync
//	err = stack.Remove(ctx, engine, "shop")               // destroy
//
// Load reads everything Deploy needs, so a plan can validate a file without
// an engine: a problem is a *LoadError carrying the file's line (the
// loader's errors name paths or Go fields, which are looked up in the YAML
// again), options swarm ignores become Warnings, and what swarm cannot do is
// refused: a service without an image (build: is not supported),
// network_mode, relative bind mounts. Interpolation uses only the given
// environment; referenced files (configs, secrets, env_file) come from
// LoadOptions.Files, or from disk only when LoadOptions.WorkingDir is set.
// Load never panics (FuzzLoad).
//
// # Differences from docker stack deploy
//
// Configs and secrets are content-addressed: named
// <stack>_<key>-<10 hex digits of the content's SHA-256> and labelled with
// their key and hash (LabelKey, LabelContentHash), so changed content makes
// a new object and the services using it roll to it, where the CLI fails
// ("only updates to Labels are allowed"). Versions no longer referenced by
// any service, nor by a service's previous spec (kept so that a rollback
// still finds them), are removed by the next Deploy. An object the file
// names explicitly (name:) keeps its name, as with the CLI, and changing its
// content is an error.
//
// Every service carries LabelSpecHash, the hash of a canonical form of its
// rendered spec (IDs, Haddock's labels, engine defaults and resolved digests
// left out, absent and empty alike). Deploy leaves a service whose current
// spec already hashes to the file's alone: no no-op update that would
// replace its previous spec. Observe hashes each service's current spec:
// when that differs from the label, the service was changed out of band
// (Drifted); a service missing from the state was removed out of band; Diff
// turns both, and changes of the file, into the changes Deploy would make.
//
// Deploy with Prune also removes the stack's networks, configs and secrets
// the file no longer uses (those still in use stay, with a warning), and
// DeployOptions.OverlayDriverOptions (for example {"encrypted": ""}) are
// added to the stack's overlay networks where the file does not set them.
// Networks, as with the CLI, are never changed in place.
//
// WaitConverged follows the CLI's progress logic (only up-to-date tasks
// count, a stable period at the end) and reports failures with the service,
// the failed task and its error; an update that swarm paused or rolled back
// (update_config.failure_action) ends the wait at once. Remove removes the
// services, waits for their tasks to go, then removes networks, configs and
// secrets.
//
// # Tests
//
// Unit tests run the CLI's converter on representative files and drive
// Deploy, WaitConverged, Observe and Remove against an in-memory engine that
// stores specs as the real one does. TestRealStack deploys to a real
// three-host swarm of localcloud hosts (network namespaces with their own
// dockerd): these have no IPVS, so it publishes ports in host mode and uses
// endpoint_mode: dnsrr.
package stack
