"""OMS simulator for the obtools.oms test bed: behaves as OMS CE 4.1.1 / 4.2.0 is documented to.

Every behaviour and its source (OMS's docs, obd, or a guess) is listed in tests/testbed/FIDELITY.md.
"""
