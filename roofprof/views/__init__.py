"""Renderers: text tables, JSON and CSV, charts, the HTML page and the written report.

They draw the analysis' numbers and compute none of their own.
"""
