# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests run beside TCG guests in make test: no per-example deadline (a loaded machine
is not a failure), and no example database left in the checkout.

Profiles (pytest --hypothesis-profile NAME): 'fleet', the default, with hypothesis's usual 100
examples per property; 'compat', 10 examples, for tests/compat/run, which runs every test under
each supported ansible-core (the properties' depth does not depend on ansible-core: make units
runs them at full depth)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from hypothesis import settings

settings.register_profile('fleet', deadline=None, database=None, print_blob=True)
settings.register_profile('compat', settings.get_profile('fleet'), max_examples=10)
settings.load_profile('fleet')
