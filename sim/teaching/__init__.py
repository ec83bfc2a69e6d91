"""The teaching wing: the browser dashboard (SolaraViz) and classroom tools."""
