"""Datasets in the Human3.6M annotation layout: the real release and its synthetic twin."""
