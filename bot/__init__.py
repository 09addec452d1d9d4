"""The Discord process: parse a command, call one atelier service, answer; deliver finished jobs.

It stays thin so that everything users can do in Discord is the same thing they can do on the web:
the rules live in `atelier`. It imports neither torch nor the gallery nor the workers, so it starts
on a host without a GPU stack.
"""
