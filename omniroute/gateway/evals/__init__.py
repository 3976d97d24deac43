"""Evals: suites of prompts with checks, run against models through the
pipeline and compared.

    patterns  regular expressions on a linear-time matcher of our own
    rules     the custom-rule expression language (an allow-listed AST walk)
    checks    the four matchers: exact, contains, regex, rule
    suites    suites and cases read from JSON; the built-in golden suite
    summary   per-model figures of a run
    runner    runs in the background, results into the store
"""
