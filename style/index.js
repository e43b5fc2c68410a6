import './base.css';
import './mlbench.css';
