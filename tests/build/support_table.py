# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where fleet.linux is proven, kept in one place: tests/build/proven-platforms.yml.

  python tests/build/support_table.py check
      Fast, no guest (tests/build/run runs it):
      - every proof the table cites exists and really runs where its cells say: a molecule scenario's
        platforms are read from its molecule.yml (a lab microserver: its `release`, by default
        lab/microserver/build's; a Pi node: its image's tag fleet-lab/pinode:${PINODE_RELEASE:-RELEASE} or
        fleet-lab/pinode:RELEASE; both amd64); molecule/NAME@RELEASE is NAME run by make
        molecule-NAME-RELEASE, on a platform whose release is ${MICROSERVER_RELEASE:-...} or an image
        fleet-lab/pinode:${PINODE_RELEASE:-...}; any other proof declares `runs_on` and the lines of its
        scripts that show it (`evidence`);
      - every proof is run by its `run_by` command (a scenario's make target in make test's lanes or in that
        target's recipe, its variables expanded), and `make test-all` runs each of those commands;
      - each role's galaxy_info.platforms lists only Debian releases where a cell of its feature is proven;
      - README.md's support table (between the support-table markers) is what the table makes.
  python tests/build/support_table.py write
      Writes that README.md table.
Run from the checkout's top directory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys

import yaml

TABLE = 'tests/build/proven-platforms.yml'
README = 'README.md'
BEGIN = '<!-- support-table: made by tests/build/support_table.py write from tests/build/proven-platforms.yml -->'
END = '<!-- support-table end -->'
STATUSES = ('proven', 'partly')
# The lab machines molecule scenarios run on: the microserver guest (QEMU x86_64) and the Pi node
# (a container on this amd64 machine).
MICROSERVER_CREATE = '../shared/microserver_create.yml'
PINODE_IMAGE = 'fleet-lab/pinode:'


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def read(path):
    with open(path) as handle:
        return handle.read()


def makefile_variable(makefile, name):
    match = re.search(r'^%s \?= ((?:[^\n]*\\\n)*[^\n]*)$' % re.escape(name), makefile, re.M)
    return match.group(1).replace('\\\n', ' ').split() if match else []


def recipe_words(makefile, recipe):
    """The words of a recipe, each $(VARIABLE) of the Makefile replaced by its value."""
    recipe = re.sub(r'\$\((\w+)\)', lambda match: ' '.join(makefile_variable(makefile, match.group(1))), recipe)
    return set(re.split(r'[\s\'";]+', recipe))


def makefile_target(makefile, target):
    """A target's prerequisites and recipe as one text, or None when the Makefile has no such target."""
    match = re.search(r'^%s:([^\n=]*)\n((?:\t[^\n]*\n)*)' % re.escape(target), makefile, re.M)
    return None if match is None else match.group(1) + '\n' + match.group(2)


def scenario_platforms(name, release=None):
    """The release/architecture pairs molecule scenario NAME runs on, read from its molecule.yml; with
    RELEASE, where it runs when MICROSERVER_RELEASE is RELEASE (unknown/unknown if it cannot)."""
    config = load_yaml(os.path.join('molecule', name, 'molecule.yml'))
    create = ((config.get('provisioner') or {}).get('playbooks') or {}).get('create')
    default_release = re.search(r'^SUITE=\$\{MICROSERVER_RELEASE:-(\w+)\}$', read('lab/microserver/build'), re.M)
    places = set()
    for platform in config.get('platforms') or []:
        if create == MICROSERVER_CREATE:
            declared = str(platform.get('release', default_release and default_release.group(1)))
            chosen = re.match(r'^\$\{MICROSERVER_RELEASE:-(\w+)\}$', declared)
            if release:
                places.add('%s/amd64' % release if chosen else 'unknown/unknown')
            else:
                places.add('%s/amd64' % (chosen.group(1) if chosen else declared))
        elif str(platform.get('image', '')).startswith(PINODE_IMAGE):
            # lab/pinode/build's images: fleet-lab/pinode:RELEASE, chosen by PINODE_RELEASE when interpolated.
            tag = str(platform['image'])[len(PINODE_IMAGE):]
            chosen = re.match(r'^\$\{PINODE_RELEASE:-(\w+)\}$', tag)
            if release:
                places.add('%s/amd64' % release if chosen else 'unknown/unknown')
            else:
                places.add('%s/amd64' % (chosen.group(1) if chosen else tag))
        else:
            places.add('unknown/unknown')
    return places


def check_proofs(data, makefile, problems):
    """Each proof's places (release/architecture), after checking that it runs there and is run."""
    lanes = makefile_variable(makefile, 'TEST_LANE_1') + makefile_variable(makefile, 'TEST_LANE_2')
    test_all = makefile_target(makefile, 'test-all')
    if test_all is None:
        problems.append('Makefile: no test-all target')
        test_all = ''
    places = {}
    for proof, spec in sorted((data.get('proofs') or {}).items()):
        run_by = spec.get('run_by', '')
        target = run_by[len('make '):] if run_by.startswith('make ') else None
        if target is None or (target != 'test' and makefile_target(makefile, target) is None):
            problems.append('%s: run_by %r is not a make target of the Makefile' % (proof, run_by))
        elif target != 'test-all' and not re.search(r'(^|\s)%s(\s|$)' % re.escape(target), test_all, re.M):
            problems.append('%s: make test-all does not run %r' % (proof, run_by))
        if proof.startswith('molecule/'):
            name, release = proof[len('molecule/'):].partition('@')[::2]
            if not os.path.isfile(os.path.join('molecule', name, 'molecule.yml')):
                problems.append('%s: no molecule/%s/molecule.yml' % (proof, name))
                continue
            stage = 'molecule-%s' % name + ('-%s' % release if release else '')
            if target == 'test':
                runs = stage in lanes
            else:
                runs = stage in recipe_words(makefile, makefile_target(makefile, target or '') or '')
            if not runs:
                problems.append('%s: %s does not run %s' % (proof, run_by, stage))
            places[proof] = scenario_platforms(name, release)
            if 'unknown/unknown' in places[proof]:
                problems.append('%s: a platform neither a lab microserver nor a Pi node, or whose release cannot be chosen'
                                ' (add how to tell where it runs)' % proof)
            continue
        if proof.startswith('make '):
            if makefile_target(makefile, proof[len('make '):]) is None:
                problems.append('%s: no such make target' % proof)
            elif proof != run_by:
                problems.append('%s: run_by %r (a make target runs itself)' % (proof, run_by))
        elif not os.access(proof, os.X_OK):
            problems.append('%s: no such executable script' % proof)
        elif target and proof not in (test_all if target == 'test-all' else makefile_target(makefile, target) or ''):
            problems.append('%s: %s does not run it' % (proof, run_by))
        for evidence in spec.get('evidence') or []:
            lines = read(evidence['file']).splitlines() if os.path.isfile(evidence['file']) else []
            if evidence['line'] not in lines:
                problems.append('%s: %s has no line %r' % (proof, evidence['file'], evidence['line']))
        if not spec.get('runs_on'):
            problems.append('%s: says neither where it runs (runs_on) nor is it a molecule scenario' % proof)
        places[proof] = set(spec.get('runs_on') or [])
    return places


def check_cells(data, places, problems):
    """Every cell names proofs that run there; returns {feature: set of releases proven}."""
    proven = dict((feature, set()) for feature in data['features'])
    for release, by_arch in sorted(data['cells'].items()):
        if release not in data['releases']:
            problems.append('cells: release %s is not in releases' % release)
        for arch, by_feature in sorted(by_arch.items()):
            if arch not in data['architectures']:
                problems.append('cells: architecture %s is not in architectures' % arch)
            for feature, cell in sorted(by_feature.items()):
                where = '%s/%s %s' % (release, arch, feature)
                if feature not in data['features']:
                    problems.append('cells: %s: no such feature' % where)
                    continue
                if cell.get('status') not in STATUSES:
                    problems.append('cells: %s: status %r (one of %s)' % (where, cell.get('status'), ', '.join(STATUSES)))
                if not cell.get('proofs'):
                    problems.append('cells: %s: no proof named' % where)
                for proof in cell.get('proofs') or []:
                    if proof not in places:
                        problems.append('cells: %s: %s is not among the proofs' % (where, proof))
                    elif '%s/%s' % (release, arch) not in places[proof]:
                        problems.append('cells: %s: %s runs on %s, not there' % (
                            where, proof, ', '.join(sorted(places[proof])) or 'nothing'))
                if cell.get('status') == 'proven':
                    proven[feature].add(release)
    return proven


def check_roles(data, proven, problems):
    roles = {}
    for feature, spec in data['features'].items():
        for role in spec.get('roles') or []:
            roles[role] = feature
    checked = 0
    for role in sorted(os.listdir('roles')):
        meta = os.path.join('roles', role, 'meta', 'main.yml')
        if not os.path.isfile(meta):
            continue
        if role not in roles:
            problems.append('%s: the role belongs to no feature of %s' % (meta, TABLE))
            continue
        feature = roles[role]
        platforms = (load_yaml(meta).get('galaxy_info') or {}).get('platforms') or []
        if not platforms:
            problems.append('%s: galaxy_info.platforms is empty (proven: Debian %s)' % (meta, ', '.join(sorted(proven[feature]))))
        for platform in platforms:
            versions = [str(version) for version in platform.get('versions') or []]
            if platform.get('name') != 'Debian':
                problems.append('%s: platform %s: only Debian releases are proven' % (meta, platform.get('name')))
            elif not versions or 'all' in versions:
                problems.append('%s: Debian versions must be named (proven: %s)' % (meta, ', '.join(sorted(proven[feature]))))
            for version in versions:
                if version != 'all' and version not in proven[feature]:
                    problems.append('%s: Debian %s is not proven for %s (%s: proven on %s)' % (
                        meta, version, feature, TABLE, ', '.join(sorted(proven[feature])) or 'nothing'))
        checked += 1
    return checked


def markdown(data):
    """The README table, its notes and footnotes."""
    features = list(data['features'])
    lines = ['| release | architecture | %s |' % ' | '.join(data['features'][f]['title'] for f in features),
             '| --- | --- | %s |' % ' | '.join(['---'] * len(features))]
    notes = []
    for release in data['releases']:
        for arch in data['architectures']:
            row = []
            for feature in features:
                cell = ((data['cells'].get(release) or {}).get(arch) or {}).get(feature)
                if not cell:
                    row.append('not proven')
                    continue
                text = ', '.join('`%s`' % proof for proof in cell['proofs'])
                if cell['status'] == 'partly':
                    text = 'partly: ' + text
                if cell.get('note'):
                    notes.append(cell['note'] + '.')
                    text += ' (%d)' % len(notes)
                row.append(text)
            lines.append('| %s | %s | %s |' % (data['releases'][release], arch, ' | '.join(row)))
    lines.append('')
    lines.extend('%d. %s' % (number, note) for number, note in enumerate(notes, 1))
    lines.append('')
    lines.extend('- %s' % footnote for footnote in data.get('footnotes') or [])
    return '\n'.join(lines) + '\n'


def readme_with_table(readme, table):
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        return None
    return readme[:start] + BEGIN + '\n' + table + readme[end:]


def main(argv):
    if argv[1:] not in (['check'], ['write']):
        print(__doc__, file=sys.stderr)
        return 2
    data = load_yaml(TABLE)
    readme = read(README)
    wanted = readme_with_table(readme, markdown(data))
    if wanted is None:
        print('support table: %s has no lines %r ... %r to hold the table' % (README, BEGIN, END), file=sys.stderr)
        return 1
    if argv[1] == 'write':
        with open(README, 'w') as handle:
            handle.write(wanted)
        print('support table: wrote it into %s' % README)
        return 0
    problems = []
    places = check_proofs(data, read('Makefile'), problems)
    proven = check_cells(data, places, problems)
    roles = check_roles(data, proven, problems)
    if wanted != readme:
        problems.append('%s: its support table is not what %s makes (run python tests/build/support_table.py write)' % (README, TABLE))
    for problem in problems:
        print('support table: %s' % problem, file=sys.stderr)
    if problems:
        return 1
    print('support table: OK (%d proofs run where their cells say, all by make test-all; %d roles list only proven releases; proven: %s; %s current)' % (
        len(places), roles, '; '.join('%s %s' % (f, ', '.join(sorted(r))) for f, r in sorted(proven.items()) if r), README))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
