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
TEST_LANE_1 ?= lab-microserver molecule-md molecule-fs_swap molecule-raid
TEST_LANE_2 ?= lint sanity units build lab-pinode molecule-smoke_pi molecule-ntpd molecule-lxc molecule-io_scheduler molecule-hostile
# Every molecule scenario (each one alone: make molecule-NAME, or make molecule SCENARIOS='a b').
SCENARIOS ?= $(patsubst molecule-%,%,$(filter molecule-%,$(TEST_LANE_1) $(TEST_LANE_2)))
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

.PHONY: help setup setup-host deps venv collection dockerd lab lab-microserver lab-pinode demo test lint sanity units units-matrix build molecule clean
.PHONY: lab-microserver-trixie test-trixie

help:
	@echo "make demo    run the microserver RAID job against the lab guest"
	@echo "make test    run every test (lint, sanity, units, build, molecule)"
	@echo "make lint | sanity | units | units-matrix [PYTHON_RELEASES='trixie'] | build | molecule [SCENARIOS='md'] | lab | clean"

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

lab-microserver:
	@lab/microserver/build >/dev/null

# The Debian 13 (trixie) lab microserver: same scripts, MICROSERVER_RELEASE=trixie (bookworm's stays the default).
lab-microserver-trixie:
	@MICROSERVER_RELEASE=trixie lab/microserver/build >/dev/null

# The Pi node image and the offline LXC image the lxc scenario puts into a Pi node.
lab-pinode:
	@lab/pinode/build >/dev/null
	@lab/lxc-image/build >/dev/null

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

# Each task's start time and length in the logs, and the slowest tasks at the end of each playbook.
molecule molecule-%: export ANSIBLE_CALLBACKS_ENABLED := ansible.posix.profile_tasks

molecule: collection
	@for s in $(SCENARIOS); do $(STAGE) "molecule-$$s" molecule test -s "$$s" || exit 1; done

molecule-%: collection
	molecule test -s $*

# md and raid against a Debian 13 guest (molecule/md_trixie, molecule/raid_trixie reuse md's and raid's
# playbooks and tests); each alone: make lab-microserver-trixie molecule-md_trixie. Not in make test's lanes.
test-trixie: lab-microserver-trixie
	@$(MAKE) --no-print-directory molecule SCENARIOS='md_trixie raid_trixie'

clean:
	rm -rf $(BUILD) tests/output

# The arm64 node of issue 14: a Debian 13 arm64 QEMU guest (TCG, its own kernel and clock) whose clock the
# ntpd_container role really corrects (lab/arm64-node/README.md). Not in make test's lanes.
.PHONY: lab-arm64-node prove-arm64-clock
lab-arm64-node:
	@nice -n 19 lab/arm64-node/build >/dev/null

prove-arm64-clock: collection lab-arm64-node
	@nice -n 19 lab/arm64-node/prove-clock

# Everything, one platform after the other (README "Tests" says what each covers and how long it took):
# make test (Debian 12 amd64, what CI runs), make units-matrix (Python 3.9, 3.11, 3.13), lab/arm-images/prove
# (Debian 12 armel and armhf images under qemu-user), make test-trixie (Debian 13 amd64), make prove-arm64-clock
# (Debian 13 arm64 guest). The arm proofs need qemu-user-static, binfmt-support and qemu-system-arm (not in
# make setup): checked before make test starts.
.PHONY: test-all
test-all:
	@missing=; for c in qemu-arm-static qemu-aarch64-static update-binfmts qemu-system-aarch64; do \
	  command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	  [ -z "$$missing" ] || { echo "make test-all: missing$$missing (apt-get install qemu-user-static binfmt-support qemu-system-arm)" >&2; exit 1; }
	@$(MAKE) --no-print-directory test
	@$(STAGE) units-matrix $(MAKE) --no-print-directory units-matrix
	@$(STAGE) arm-images nice -n 19 lab/arm-images/prove
	@$(MAKE) --no-print-directory test-trixie
	@$(STAGE) prove-arm64-clock $(MAKE) --no-print-directory prove-arm64-clock
	@$(STAGE) prove-progress lab/microserver/prove-progress
	@echo "make test-all: all stages passed"
