# fleet.linux: every set-up and test step, runnable on a fresh Debian 12 machine.
#   make demo   the main job (the microserver RAID playbook) against the lab guest
#   make test   every test: lint, sanity, units, build + ansible-doc, molecule
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
BUILD := $(CURDIR)/.build
FLEET_CACHE ?= $(HOME)/.cache/fleet-linux
COLLECTIONS := $(BUILD)/collections
STAGE := $(CURDIR)/scripts/stage
# make test runs its stages in two lanes side by side, balanced by their times (the machine is
# CPU-bound: a lane waiting on apt, dockerd or SSH lends its core to the other lane's TCG guest).
# The lab images are built (or found in FLEET_CACHE) in the lanes, beside the static checks.
# Every scenario runs on the current stable release, Debian 13 trixie (their default), and Debian 12
# bookworm at smoke depth: io_scheduler on the microserver (molecule-NAME-bookworm runs NAME on bookworm).
# Lane 2 builds three lab images (the Pi node, the LXC image, the Debian 12 microserver: 4 min on a fresh
# machine) where lane 1 builds one: lint, build and compat go to lane 1's end (compat waits for the Pi
# node image, built under a lock, if lane 2 has not built it yet). 2026-12-05, quiet, fresh cache: lane 1
# 21m15 and lane 2 25m10 with compat (1m40) in lane 2.
TEST_LANE_1 ?= lab-microserver-trixie molecule-md molecule-fs_swap molecule-raid lint build compat
TEST_LANE_2 ?= sanity units lab-pinode molecule-smoke_pi molecule-ntpd molecule-lxc molecule-hostile \
  lab-microserver molecule-io_scheduler-bookworm
# make test-releases: each scenario on the release make test leaves it out on (Debian 12's md, fs_swap,
# raid, hostile battery and Pi nodes; Debian 13's io_scheduler), in two lanes (the Pi-node scenarios in
# one: their nodes' names are shared); make test-all runs it.
RELEASES_LANE_1 ?= lab-microserver molecule-md-bookworm molecule-raid-bookworm molecule-fs_swap-bookworm
RELEASES_LANE_2 ?= lab-microserver lab-microserver-trixie molecule-hostile-bookworm molecule-io_scheduler \
  lab-pinode-bookworm molecule-smoke_pi-bookworm molecule-ntpd-bookworm molecule-lxc-bookworm
# Every molecule scenario (each one alone: make molecule-NAME, or make molecule SCENARIOS='a b').
SCENARIOS ?= $(patsubst molecule-%,%,$(patsubst %-bookworm,%,$(filter molecule-%,$(TEST_LANE_1) $(TEST_LANE_2))))
# The Debian releases whose python3 make units-matrix runs the unit tests on (3.9, 3.11, 3.13).
PYTHON_RELEASES ?= bullseye bookworm trixie
# Two TCG guests at once boot slower: give SSH up to 10 minutes.
export LAB_SSH_TIMEOUT ?= 600

export FLEET_CACHE PYTHON_RELEASES
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
export LC_ALL := C.UTF-8

.PHONY: help setup setup-host deps venv collection dockerd lab lab-microserver lab-pinode demo test lint sanity units units-matrix build compat compat-full molecule clean
.PHONY: lab-microserver-trixie lab-pinode-bookworm test-releases

help:
	@echo "make demo    run the microserver RAID job against the lab guest"
	@echo "make test    run every test (lint, sanity, units, build, compat, molecule) on the current stable release"
	@echo "make test-all    make test, then the other platforms (README Tests)"
	@echo "make lint | sanity | units | units-matrix [PYTHON_RELEASES='trixie'] | build | compat | molecule [SCENARIOS='md'] | molecule-NAME[-bookworm] | test-releases | lab | clean"

setup: setup-host
	@$(STAGE) lab-images $(MAKE) --no-print-directory lab

setup-host:
	@$(STAGE) deps $(MAKE) --no-print-directory deps
	@$(STAGE) venv $(MAKE) --no-print-directory venv collection
	@$(STAGE) dockerd $(MAKE) --no-print-directory dockerd

deps:
	@scripts/install-deps

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

# Ansible finds this checkout as the collection fleet.linux through a symlink.
collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/fleet
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/fleet/linux

dockerd:
	@scripts/start-dockerd

lab:
	@lab/build-images

# The lab microserver images: Debian 12 bookworm (lab/microserver/build's default: make demo's guest) and
# Debian 13 trixie (the molecule scenarios' default), from the same scripts.
lab-microserver:
	@MICROSERVER_RELEASE=bookworm lab/microserver/build >/dev/null

lab-microserver-trixie:
	@MICROSERVER_RELEASE=trixie lab/microserver/build >/dev/null

# The Pi node image and the offline LXC image the lxc scenario puts into a Pi node: Debian 13 (the
# scenarios' default) and Debian 12.
lab-pinode:
	@PINODE_RELEASE=trixie lab/pinode/build >/dev/null
	@PINODE_RELEASE=trixie lab/lxc-image/build >/dev/null

lab-pinode-bookworm:
	@PINODE_RELEASE=bookworm lab/pinode/build >/dev/null
	@PINODE_RELEASE=bookworm lab/lxc-image/build >/dev/null

# Each lane's full output: $(BUILD)/logs/LANE.log (the tail of a failing one is printed).
test: setup-host
	@scripts/lanes $(BUILD)/logs lane1 "$(TEST_LANE_1)" lane2 "$(TEST_LANE_2)"
	@echo "make test: all stages passed"

demo: setup
	@$(STAGE) demo lab/demo

lint: collection
	ansible-lint --offline --profile production

sanity: collection
	tests/sanity/run

units: collection
	PYTHONPATH=$(COLLECTIONS) python -m pytest -p no:cacheprovider -n 2 tests/unit

# The unit tests under each release's own python3, in images built with debootstrap (tests/python-matrix).
units-matrix:
	@tests/python-matrix

build: collection
	tests/build/run

# Every supported ansible-core release (tests/compat/releases.txt): ansible-doc of every plugin and role,
# and for the oldest and the newest also the unit tests and their own ansible-test sanity (the tests without
# a virtualenv of their own); compat-full: all of that for every release, and more of sanity (README Tests).
compat: collection
	@tests/compat/run

compat-full: collection
	@tests/compat/run --full

# Each task's start time and length in the logs, and the slowest tasks at the end of each playbook.
molecule molecule-%: export ANSIBLE_CALLBACKS_ENABLED := ansible.posix.profile_tasks

molecule: collection
	@for s in $(SCENARIOS); do $(STAGE) "molecule-$$s" molecule test -s "$$s" || exit 1; done

molecule-%: collection
	molecule test -s $*

# A scenario on Debian 12 (the platforms' release is ${MICROSERVER_RELEASE:-trixie}, ${PINODE_RELEASE:-trixie}).
molecule-%-bookworm: collection
	MICROSERVER_RELEASE=bookworm PINODE_RELEASE=bookworm molecule test -s $*

test-releases: setup-host
	@scripts/lanes $(BUILD)/logs releases1 "$(RELEASES_LANE_1)" releases2 "$(RELEASES_LANE_2)"
	@echo "make test-releases: all stages passed"

clean:
	rm -rf $(BUILD) tests/output

# The arm64 node of issue 14: a Debian 13 arm64 QEMU guest (TCG, its own kernel and clock) whose clock the
# ntpd_container role really corrects (lab/arm64-node/README.md). Not in make test's lanes.
.PHONY: lab-arm64-node prove-arm64-clock
lab-arm64-node:
	@nice -n 19 lab/arm64-node/build >/dev/null

prove-arm64-clock: collection lab-arm64-node
	@nice -n 19 lab/arm64-node/prove-clock

# The execution environment (execution-environment.yml) built locally as fleet-linux-ee:VERSION, and
# ansible-navigator running fleet.linux.rpi_ntpd in it over SSH against a lab Pi node.
.PHONY: ee prove-ee
ee:
	@lab/ee/build >/dev/null

prove-ee:
	@lab/ee/prove

# Everything, one platform after the other (README "Tests" says what each covers and how long it took):
# make test (what CI runs: Debian 13, and Debian 12's io_scheduler on the microserver), make units-matrix
# (Python 3.9, 3.11, 3.13), make compat-full (every ansible-core release, 2.16 to 2.21, with its unit tests
# and more of its sanity), lab/arm-images/prove (Debian 12 armel and armhf images under qemu-user), make
# test-releases (the microserver scenarios make test leaves out on a release), make prove-arm64-clock
# (Debian 13 arm64 guest), lab/microserver/prove-progress, make prove-ee (the EE).
# The arm proofs need qemu-user-static, binfmt-support and qemu-system-arm (not in make setup): checked
# before make test starts.
.PHONY: test-all
test-all:
	@missing=; for c in qemu-arm-static qemu-aarch64-static update-binfmts qemu-system-aarch64; do \
	  command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	  [ -z "$$missing" ] || { echo "make test-all: missing$$missing (apt-get install qemu-user-static binfmt-support qemu-system-arm)" >&2; exit 1; }
	@$(MAKE) --no-print-directory test
	@$(STAGE) units-matrix $(MAKE) --no-print-directory units-matrix
	@$(STAGE) compat-full $(MAKE) --no-print-directory compat-full
	@$(STAGE) arm-images nice -n 19 lab/arm-images/prove
	@$(STAGE) test-releases $(MAKE) --no-print-directory test-releases
	@$(STAGE) prove-arm64-clock $(MAKE) --no-print-directory prove-arm64-clock
	@$(STAGE) prove-progress lab/microserver/prove-progress
	@$(STAGE) prove-ee $(MAKE) --no-print-directory prove-ee
	@echo "make test-all: all stages passed"
