"""Orchestration: reconcile passes, the loop that runs them, the watcher that pokes it.

It decides nothing itself: the planner decides, the store records, executors run.
"""
