# -*- coding: utf-8 -*-
# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests run beside TCG guests in make test: no per-example deadline (a loaded machine
is not a failure), and no example database left in the checkout."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from hypothesis import settings

settings.register_profile('fleet', deadline=None, database=None, print_blob=True)
settings.load_profile('fleet')
