"""Printer drivers: one module per kind of printer software, all behind `base.PrinterDriver`."""
