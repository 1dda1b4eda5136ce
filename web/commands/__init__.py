"""Sub-commands of `smartlib`, one module per group; each exposes `register(commands)`.

A command sets `func` on its parser: a callable taking (settings, args) and returning an exit
code. Keeping groups in their own modules lets capabilities add commands without touching
each other.
"""
