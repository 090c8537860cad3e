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
# Scenarios that make test runs (each one alone: make molecule SCENARIOS=name), in two lanes side
# by side: the lab microserver (a TCG guest: CPU) and the checks with the docker-based Pi nodes.
MICROSERVER_SCENARIOS ?= smoke md fs_swap io_scheduler hostile raid
NODE_SCENARIOS ?= smoke_pi ntpd lxc
SCENARIOS ?= $(MICROSERVER_SCENARIOS) $(NODE_SCENARIOS)

export FLEET_CACHE
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
export LC_ALL := C.UTF-8

.PHONY: help setup deps venv collection dockerd lab demo test lint sanity units build molecule clean

help:
	@echo "make demo    run the microserver RAID job against the lab guest"
	@echo "make test    run every test (lint, sanity, units, build, molecule)"
	@echo "make lint | sanity | units | build | molecule [SCENARIOS='smoke'] | lab | clean"

setup:
	@$(STAGE) deps $(MAKE) --no-print-directory deps
	@$(STAGE) venv $(MAKE) --no-print-directory venv collection
	@$(STAGE) dockerd $(MAKE) --no-print-directory dockerd
	@$(STAGE) lab-images $(MAKE) --no-print-directory lab

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

# Each lane's full output: $(BUILD)/logs/LANE.log (the tail of a failing one is printed).
test: setup
	@scripts/lanes $(BUILD)/logs \
	  microserver "$(MICROSERVER_SCENARIOS:%=molecule-%)" \
	  checks+nodes "lint sanity units build $(NODE_SCENARIOS:%=molecule-%)"
	@echo "make test: all stages passed"

demo: setup
	@$(STAGE) demo lab/demo

lint: collection
	ansible-lint --offline --profile production

sanity: collection
	tests/sanity/run

units: collection
	PYTHONPATH=$(COLLECTIONS) python -m pytest -p no:cacheprovider -n 2 tests/unit

build: collection
	tests/build/run

molecule: collection
	@for s in $(SCENARIOS); do $(STAGE) "molecule-$$s" molecule test -s "$$s" || exit 1; done

molecule-%: collection
	molecule test -s $*

clean:
	rm -rf $(BUILD) tests/output
